/**
 * A key-rotation policy: every active key older than a cut-off gets a new
 * key, in one transaction (statements in batches), so the old keys all stop
 * working at its commit and a failure changes nothing. The new plain keys are
 * handed to `beforeCommit` (files written and fsynced) before that commit.
 *
 * A key with no created_at (written by other tools) has an unknown age and
 * counts as older than any cut-off. Keys that are already inactive (revoked,
 * or switched off with their deactivated user) are left alone.
 */
import {type SQL, sql} from 'drizzle-orm'
import {chunks} from '../db/arrays.js'
import type {Db} from '../db/client.js'
import {transactionWithMarker} from '../db/commit.js'
import {apiKeys} from '../db/schema.js'
import {rows} from '../db/sql.js'
import {naiveAt, naiveIso} from '../db/time.js'
import {auditEach} from './audit.js'
import type {ServiceContext} from './context.js'
import {checkKeyLength, fingerprint, hashKey, type IssuedKey, KEY_LENGTH} from './keys.js'

/** The one predicate "this key is older than the cut-off" (unknown age counts as old). */
export function keyOlderThan(cutoff: Date): SQL {
  return sql`coalesce(${apiKeys.createdAt}, '-infinity'::timestamp) < ${naiveAt(cutoff)}`
}

export const DEFAULT_ROTATION_BATCH = 1000

export interface OldKey {
  userId: string
  keyFingerprint: string
  createdAt: string | null
}

interface OldKeyRow {
  key_id: string
  user_id: string
  key_hash: string
  created_at: string | null
}

function selectOld(cutoff: Date, forUpdate: boolean): SQL {
  return sql`
    select ${apiKeys.id}::text as key_id, u.user_id, ${apiKeys.keyHash} as key_hash, ${naiveIso(apiKeys.createdAt)} as created_at
    from ${apiKeys} join users u on u.id = ${apiKeys.userId}
    where ${apiKeys.isActive} and ${keyOlderThan(cutoff)}
    order by u.user_id, ${apiKeys.id}
    ${forUpdate ? sql`for update of ${apiKeys}` : sql``}`
}

/** The active keys older than the cut-off (no locks): for --dry-run and the confirmation. */
export async function listOldKeys(db: Db, cutoff: Date): Promise<OldKey[]> {
  const old = await rows<OldKeyRow>(db, selectOld(cutoff, false))
  return old.map((r) => ({
    userId: r.user_id,
    keyFingerprint: fingerprint(r.key_hash),
    createdAt: r.created_at,
  }))
}

export interface PolicyRotation {
  cutoff: string
  rotated: number
  userIds: string[]
}

export interface PolicyHooks {
  onStart?: (total: number) => void
  onProgress?: (done: number) => void
  /** Deliver the new keys (written and fsynced) inside the transaction, before it commits. */
  beforeCommit?: (keys: IssuedKey[]) => Promise<void>
}

export async function rotateKeysOlderThan(
  db: Db,
  input: {cutoff: Date; keyLength?: number; batchSize?: number; reason?: string},
  ctx: ServiceContext,
  hooks: PolicyHooks = {},
): Promise<PolicyRotation> {
  const length = checkKeyLength(input.keyLength ?? KEY_LENGTH.default)
  const batchSize = input.batchSize ?? DEFAULT_ROTATION_BATCH
  const now = ctx.now()
  const newHashes: string[] = []
  return transactionWithMarker(
    db,
    async (tx) => {
      // Locking the rows (in userId order) keeps a concurrent single rotation or revoke out until commit.
      const old = await rows<OldKeyRow>(tx, selectOld(input.cutoff, true))
      hooks.onStart?.(old.length)
      const issued: IssuedKey[] = []
      let done = 0
      for (const batch of chunks(old, batchSize)) {
        const made = batch.map((r) => {
          const apiKey = ctx.newKey(length)
          return {row: r, apiKey, keyHash: hashKey(apiKey)}
        })
        // One bind parameter per batch, whatever its size: the rows travel as one JSON document.
        const values = JSON.stringify(made.map((m) => ({id: m.row.key_id, key_hash: m.keyHash})))
        await tx.execute(sql`
        update ${apiKeys} set key_hash = v.key_hash, created_at = ${naiveAt(now)}, last_used = null
        from jsonb_to_recordset(${values}::jsonb) as v(id uuid, key_hash text)
        where ${apiKeys.id} = v.id`)
        await auditEach(tx, ctx, 'changed', made, (m) => [
          m.row.user_id,
          {
            action: 'rotate',
            policy: input.reason ?? `older than ${input.cutoff.toISOString()}`,
            keyFingerprint: fingerprint(m.keyHash),
            previousFingerprint: fingerprint(m.row.key_hash),
            active: true,
          },
        ])
        for (const m of made) {
          issued.push({userId: m.row.user_id, apiKey: m.apiKey})
          newHashes.push(m.keyHash)
        }
        done += batch.length
        hooks.onProgress?.(done)
      }
      if (issued.length > 0) await hooks.beforeCommit?.(issued)
      return {
        cutoff: input.cutoff.toISOString(),
        rotated: issued.length,
        userIds: issued.map((k) => k.userId),
      }
    },
    {keyHashes: () => newHashes, what: 'the rotated keys'},
  )
}
