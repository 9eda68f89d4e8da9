/**
 * The server's authentication rule, read-only: hash the presented key and
 * look for an api_keys row with that hash; it authenticates only when that
 * row is active. Unlike the server, this never touches last_used.
 */
import {eq} from 'drizzle-orm'
import type {Db} from '../db/client.js'
import {apiKeys, users} from '../db/schema.js'
import {naiveIso} from '../db/time.js'
import {fingerprint, hashKey} from './keys.js'

export type KeyCheck =
  | {
      valid: true
      reason: 'active'
      userId: string
      id: string
      keyFingerprint: string
      lastUsedAt: string | null
    }
  | {
      valid: false
      reason: 'revoked'
      userId: string
      id: string
      keyFingerprint: string
      lastUsedAt: string | null
    }
  | {valid: false; reason: 'unknown'; keyFingerprint: string}

export async function checkKey(db: Db, key: string): Promise<KeyCheck> {
  const keyHash = hashKey(key)
  const [row] = await db
    .select({
      isActive: apiKeys.isActive,
      lastUsed: naiveIso(apiKeys.lastUsed),
      userId: users.userId,
      userUuid: users.id,
    })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .where(eq(apiKeys.keyHash, keyHash))
    .limit(1)
  if (!row) return {valid: false, reason: 'unknown', keyFingerprint: fingerprint(keyHash)}
  const common = {
    userId: row.userId,
    id: row.userUuid,
    keyFingerprint: fingerprint(keyHash),
    lastUsedAt: row.lastUsed,
  }
  return row.isActive
    ? {valid: true, reason: 'active', ...common}
    : {valid: false, reason: 'revoked', ...common}
}
