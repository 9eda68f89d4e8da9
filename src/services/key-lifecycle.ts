/**
 * Key lifecycle: rotate (new key replaces the hash in the user's single key
 * row, atomically), revoke (idempotent) and list (fingerprints, never secrets).
 */
import {eq, type SQL, sql} from 'drizzle-orm'
import type {Database, Db} from '../db/client.js'
import {transactionWithMarker} from '../db/commit.js'
import {apiKeys, deactivations, users} from '../db/schema.js'
import {isDeactivated, rows} from '../db/sql.js'
import {fetchSize} from '../db/stream.js'
import {naiveIso} from '../db/time.js'
import {recordAudit} from './audit.js'
import type {ServiceContext} from './context.js'
import {keyOlderThan} from './key-policy.js'
import {checkKeyLength, fingerprint, hashKey, KEY_LENGTH} from './keys.js'
import {change, lockUser} from './lifecycle.js'
import {userNotFound} from './user-lookup.js'
import {getUser} from './users.js'

export interface KeysRotateResult {
  userId: string
  apiKey: string
  keyFingerprint: string
  previousKeyFingerprint: string | null
  createdAt: string
  /** `revoked` (inactive) when the user is deactivated: the new key stays so until `users reactivate`. */
  keyStatus: 'active' | 'revoked'
  /** True when the user had no key row (upstream databases) and one was added. */
  keyRowCreated: boolean
}

export async function rotateKey(
  db: Db,
  userId: string,
  opts: {
    keyLength?: number
    /** Called with the new key before the transaction opens: a throw changes nothing. */
    stage?: (apiKey: string) => void | Promise<void>
    /** Called just before COMMIT is sent. */
    committing?: () => void
  },
  ctx: ServiceContext,
): Promise<KeysRotateResult> {
  const length = checkKeyLength(opts.keyLength ?? KEY_LENGTH.default)
  const apiKey = ctx.newKey(length)
  const keyHash = hashKey(apiKey)
  const now = ctx.now()
  await opts.stage?.(apiKey)
  return transactionWithMarker(
    db,
    async (tx) => {
      // The user row lock serialises rotations of one user: the last to commit wins.
      const user = await lockUser(tx, userId)
      const [deactivation] = await tx
        .select()
        .from(deactivations)
        .where(eq(deactivations.userUuid, user.id))
        .limit(1)
      const active = !deactivation
      const [existing] = await tx.select().from(apiKeys).where(eq(apiKeys.userId, user.id)).limit(1)
      if (existing) {
        await tx
          .update(apiKeys)
          .set({keyHash, createdAt: now, lastUsed: null, isActive: active})
          .where(eq(apiKeys.id, existing.id))
      } else {
        await tx.insert(apiKeys).values({
          id: ctx.uuid(),
          userId: user.id,
          keyHash,
          createdAt: now,
          lastUsed: null,
          isActive: active,
        })
      }
      if (deactivation && !deactivation.keySwitchedOff) {
        // Reactivation must turn on the key made while the user was deactivated.
        await tx.update(deactivations).set({keySwitchedOff: true}).where(eq(deactivations.userUuid, user.id))
      }
      const previousFingerprint = existing ? fingerprint(existing.keyHash) : null
      await recordAudit(tx, ctx, [
        {
          targetUserId: userId,
          outcome: 'changed',
          details: {action: 'rotate', keyFingerprint: fingerprint(keyHash), previousFingerprint, active},
        },
      ])
      return {
        userId,
        apiKey,
        keyFingerprint: fingerprint(keyHash),
        previousKeyFingerprint: previousFingerprint,
        createdAt: now.toISOString(),
        keyStatus: active ? 'active' : 'revoked',
        keyRowCreated: !existing,
      }
    },
    {keyHashes: () => [keyHash], what: `the new key of ${userId}`, committing: opts.committing},
  )
}

export interface RotationPreview {
  userId: string
  dryRun: true
  previousKeyFingerprint: string | null
  /** `revoked` (inactive) when the user is deactivated: a new key would stay so. */
  keyStatus: 'active' | 'revoked'
}

/** What `keys rotate` would do, without doing it. */
export async function previewRotation(db: Db, userId: string): Promise<RotationPreview> {
  const [row] = await db
    .select({keyHash: apiKeys.keyHash, deactivatedAt: deactivations.deactivatedAt})
    .from(users)
    .leftJoin(apiKeys, eq(apiKeys.userId, users.id))
    .leftJoin(deactivations, eq(deactivations.userUuid, users.id))
    .where(eq(users.userId, userId))
    .limit(1)
  if (!row) throw await userNotFound(db, userId)
  return {
    userId,
    dryRun: true,
    previousKeyFingerprint: row.keyHash ? fingerprint(row.keyHash) : null,
    keyStatus: row.deactivatedAt === null ? 'active' : 'revoked',
  }
}

export interface KeysRevokeResult {
  userId: string
  changed: boolean
  dryRun: boolean
  keyStatus: 'revoked' | 'none'
  keyFingerprint: string | null
}

/** Make the user's key inactive. Idempotent; a user with no key is reported unchanged. */
export async function revokeKey(
  db: Db,
  userId: string,
  ctx: ServiceContext,
  opts: {dryRun?: boolean} = {},
): Promise<KeysRevokeResult> {
  const dryRun = Boolean(opts.dryRun)
  return change(db, dryRun, async (tx) => {
    const user = dryRun ? await getUser(tx, userId) : await lockUser(tx, userId)
    const [key] = await tx.select().from(apiKeys).where(eq(apiKeys.userId, user.id)).limit(1)
    if (!key) return {userId, changed: false, dryRun, keyStatus: 'none' as const, keyFingerprint: null}
    // A deactivated user's key is already inactive, but reactivation would turn it
    // back on: revoking it must also take it out of what reactivation restores.
    const [deactivation] = await tx
      .select()
      .from(deactivations)
      .where(eq(deactivations.userUuid, user.id))
      .limit(1)
    const restoredLater = Boolean(deactivation?.keySwitchedOff)
    const changed = key.isActive || restoredLater
    if (changed && !dryRun) {
      if (key.isActive) await tx.update(apiKeys).set({isActive: false}).where(eq(apiKeys.id, key.id))
      if (restoredLater) {
        await tx.update(deactivations).set({keySwitchedOff: false}).where(eq(deactivations.userUuid, user.id))
      }
      await recordAudit(tx, ctx, [
        {
          targetUserId: userId,
          outcome: 'changed',
          details: {action: 'revoke', keyFingerprint: fingerprint(key.keyHash)},
        },
      ])
    }
    return {userId, changed, dryRun, keyStatus: 'revoked' as const, keyFingerprint: fingerprint(key.keyHash)}
  })
}

export interface KeyListItem {
  userId: string
  keyFingerprint: string
  keyStatus: 'active' | 'revoked'
  deactivated: boolean
  createdAt: string | null
  lastUsedAt: string | null
}

export interface ListKeysInput {
  limit?: number
  /** Only keys created before this instant (a key of unknown age counts as older). */
  olderThan?: Date
}

/** One row per key, with its owner and whether the owner is deactivated, by userId. */
export function keysListSql(input: ListKeysInput): SQL {
  const limit = input.limit === undefined ? sql`` : sql` limit ${input.limit}`
  return sql`select ${users.userId} as user_id, ${apiKeys.keyHash} as key_hash,
      coalesce(${apiKeys.isActive}, false) as is_active,
      ${isDeactivated()} as deactivated,
      ${naiveIso(apiKeys.createdAt)} as created_at, ${naiveIso(apiKeys.lastUsed)} as last_used
    from ${apiKeys}
    join ${users} on ${users.id} = ${apiKeys.userId}
    ${input.olderThan ? sql`where ${keyOlderThan(input.olderThan)}` : sql``}
    order by ${users.userId}${limit}`
}

interface KeyListRow {
  user_id: string
  key_hash: string
  is_active: boolean
  deactivated: boolean
  created_at: string | null
  last_used: string | null
}

function keyListItem(r: KeyListRow): KeyListItem {
  return {
    userId: r.user_id,
    keyFingerprint: fingerprint(r.key_hash),
    keyStatus: r.is_active ? 'active' : 'revoked',
    deactivated: Boolean(r.deactivated),
    createdAt: r.created_at,
    lastUsedAt: r.last_used,
  }
}

export async function listKeys(db: Db, input: ListKeysInput = {}): Promise<KeyListItem[]> {
  return (await rows<KeyListRow>(db, keysListSql(input))).map(keyListItem)
}

/** The listing in chunks as the database produces them; leaving the loop cancels the query. */
export async function* streamKeys(
  database: Pick<Database, 'cursor'>,
  input: ListKeysInput = {},
  chunkSize = fetchSize(),
): AsyncGenerator<KeyListItem[]> {
  for await (const chunk of database.cursor<KeyListRow>(keysListSql(input), chunkSize))
    yield chunk.map(keyListItem)
}

/** How many keys the listing has without --limit. */
export async function countKeys(db: Db, input: Pick<ListKeysInput, 'olderThan'> = {}): Promise<number> {
  const [row] = await rows<{n: number}>(
    db,
    sql`select count(*)::int as n from ${apiKeys} join ${users} on ${users.id} = ${apiKeys.userId}
      ${input.olderThan ? sql`where ${keyOlderThan(input.olderThan)}` : sql``}`,
  )
  return Number(row?.n ?? 0)
}
