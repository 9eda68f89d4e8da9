/**
 * A transaction whose COMMIT reply may be lost. When the connection drops
 * after the body has run (COMMIT sent, its answer never read), the change
 * may or may not be committed: find out by asking the database again for
 * the transaction's own marker (the key hashes it wrote). Committed: the
 * caller goes on as after any commit. Not committed: the original error.
 * The database cannot say: CommitUnknownError (exit 75), and the caller
 * keeps every key it wrote, since its hash may be committed.
 */
import {sql} from 'drizzle-orm'
import {CommitUnknownError, isConnectionLoss, ServerTimeoutError} from '../errors.js'
import {stopPoint} from '../stop-point.js'
import type {Db} from './client.js'
import {apiKeys} from './schema.js'
import {rows} from './sql.js'

/** How long finding out may take before the outcome is reported unknown. */
const CHECK_MS = 10_000

/** Whether any of these key hashes is stored (all of one transaction's are, or none). */
export async function keyHashesStored(db: Db, hashes: string[]): Promise<boolean> {
  if (hashes.length === 0) return false
  // One is enough: the transaction wrote all of them or none.
  const [row] = await rows<{n: number}>(
    db,
    sql`select count(*)::int as n from ${apiKeys} where ${apiKeys.keyHash} = ${hashes[0]}`,
  )
  return Number(row?.n ?? 0) > 0
}

/** Asked once the connection is lost mid-transaction: was it the server's idle-in-transaction limit? Bounded. */
async function idleTimeout(db: Db, ranMs: number, cause: unknown): Promise<ServerTimeoutError | undefined> {
  try {
    const [row] = await Promise.race([
      rows<{ms: number; shown: string}>(
        db,
        sql`select setting::int as ms, current_setting('idle_in_transaction_session_timeout') as shown
            from pg_settings where name = 'idle_in_transaction_session_timeout'`,
      ),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), CHECK_MS).unref()),
    ])
    if (row && row.ms > 0 && ranMs >= row.ms) return new ServerTimeoutError(row.shown, ranMs, cause)
  } catch {}
  return undefined
}

export async function transactionWithMarker<T>(
  db: Db,
  body: (tx: Db) => Promise<T>,
  marker: {
    keyHashes: () => string[]
    what: string
    /** Called as the body ends, just before COMMIT is sent (its outcome may be lost from here on). */
    committing?: () => void
  },
): Promise<T> {
  let done = false
  let result: T
  const began = Date.now()
  try {
    return await db.transaction(async (tx) => {
      result = await body(tx as unknown as Db)
      await stopPoint('in-transaction')
      done = true
      marker.committing?.()
      return result
    })
  } catch (error) {
    if (!isConnectionLoss(error)) throw error
    if (!done) throw (await idleTimeout(db, Date.now() - began, error)) ?? error
    let committed: boolean
    try {
      committed = await Promise.race([
        keyHashesStored(db, marker.keyHashes()),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), CHECK_MS).unref()),
      ])
    } catch {
      throw new CommitUnknownError(marker.what, error)
    }
    if (committed) return result!
    throw error
  }
}
