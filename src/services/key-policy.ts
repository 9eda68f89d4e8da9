/**
 * A key-rotation policy: every active key older than a cut-off gets a new
 * key, in one transaction (statements in batches), so the old keys all stop
 * working at its commit and a failure changes nothing. The new plain keys are
 * made and handed to `stage` (files written and fsynced) before the
 * transaction opens; inside it the locked keys must be exactly the planned ones.
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
import {ConflictError} from '../errors.js'
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
  /** Called with the new keys before the transaction opens (key files staged): a throw changes nothing. */
  stage?: (keys: IssuedKey[]) => Promise<void>
  /** Called once the keys are staged. */
  staged?: () => Promise<void>
  /** Called just before COMMIT is sent. */
  committing?: () => void
}

/** Whether the keys locked in the transaction are exactly the ones planned (same rows, same hashes). */
function samePlan(locked: OldKeyRow[], planned: OldKeyRow[]): boolean {
  return (
    locked.length === planned.length &&
    locked.every((r, i) => r.key_id === planned[i].key_id && r.key_hash === planned[i].key_hash)
  )
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
  // The plan is read, and its keys made and staged, before the transaction opens:
  // inside it only SQL runs, whatever the number of keys.
  const planned = await rows<OldKeyRow>(db, selectOld(input.cutoff, false))
  hooks.onStart?.(planned.length)
  const made = planned.map((r) => {
    const apiKey = ctx.newKey(length)
    return {row: r, apiKey, keyHash: hashKey(apiKey)}
  })
  const issued: IssuedKey[] = made.map((m) => ({userId: m.row.user_id, apiKey: m.apiKey}))
  if (issued.length > 0) {
    await hooks.stage?.(issued)
    await hooks.staged?.()
  }
  return transactionWithMarker(
    db,
    async (tx) => {
      // Locking the rows (in userId order) keeps a concurrent single rotation or revoke out until commit.
      const locked = await rows<OldKeyRow>(tx, selectOld(input.cutoff, true))
      if (!samePlan(locked, planned)) {
        throw new ConflictError(
          'The keys older than the cut-off changed while the new ones were prepared (another rotation, revoke or creation); nothing was changed. Run it again.',
        )
      }
      let done = 0
      for (const batch of chunks(made, batchSize)) {
        // One bind parameter per batch, whatever its size: the rows travel as one JSON document.
        const values = JSON.stringify(batch.map((m) => ({id: m.row.key_id, key_hash: m.keyHash})))
        await tx.execute(sql`
        update ${apiKeys} set key_hash = v.key_hash, created_at = ${naiveAt(now)}, last_used = null
        from jsonb_to_recordset(${values}::jsonb) as v(id uuid, key_hash text)
        where ${apiKeys.id} = v.id`)
        await auditEach(tx, ctx, 'changed', batch, (m) => [
          m.row.user_id,
          {
            action: 'rotate',
            policy: input.reason ?? `older than ${input.cutoff.toISOString()}`,
            keyFingerprint: fingerprint(m.keyHash),
            previousFingerprint: fingerprint(m.row.key_hash),
            active: true,
          },
        ])
        done += batch.length
        hooks.onProgress?.(done)
      }
      return {
        cutoff: input.cutoff.toISOString(),
        rotated: issued.length,
        userIds: issued.map((k) => k.userId),
      }
    },
    {keyHashes: () => made.map((m) => m.keyHash), what: 'the rotated keys', committing: hooks.committing},
  )
}
