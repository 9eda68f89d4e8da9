/**
 * Rows of a query in chunks, as the database produces them: the one
 * streaming helper every listing reads through, so memory does not depend on
 * the number of rows. postgres.js reads the extended protocol's portal,
 * `cursor(n)`: each Execute fetches n rows; leaving the loop early closes the
 * portal. One plan, run once, whatever the sort order.
 *
 * Rows are raw driver rows (the query names its columns; timestamps are
 * selected as text and converted with `utcIso`).
 */
import type {SQL} from 'drizzle-orm'
import type {Db} from './client.js'

export const DEFAULT_FETCH_SIZE = 1000

/** Rows per chunk: OPENMEMORY_FETCH_SIZE (tests and benchmarks) or 1000. */
export function fetchSize(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.OPENMEMORY_FETCH_SIZE)
  return Number.isInteger(n) && n > 0 ? Math.min(n, 1_000_000) : DEFAULT_FETCH_SIZE
}

export type RowCursor = <T>(query: SQL, chunkSize: number) => AsyncGenerator<T[]>

/** postgres.js: a portal read `chunkSize` rows at a time. */
export function postgresCursor(client: {unsafe: (q: string, p: never[]) => unknown}, db: Db): RowCursor {
  return async function* <T>(query: SQL, chunkSize: number) {
    const {sql: text, params} = sqlText(db, query)
    const pending = client.unsafe(text, params as never[]) as {
      cursor(n: number): AsyncIterable<T[]>
    }
    // Breaking out of this loop calls the iterator's return(): postgres.js
    // sends Close + Sync, and the server stops producing rows.
    for await (const rows of pending.cursor(chunkSize)) yield [...rows]
  }
}

/**
 * Behind a pooler: the same portal, inside a read-only transaction whose
 * first statement bounds its lock waits (`setLocal`); the transaction keeps
 * the pooler's server session for the whole read.
 */
export function pooledCursor(client: {reserve(): Promise<Reserved>}, db: Db, setLocal: string): RowCursor {
  return async function* <T>(query: SQL, chunkSize: number) {
    const {sql: text, params} = sqlText(db, query)
    yield* readOnlySession(client, setLocal, async function* (conn) {
      const pending = conn.unsafe(text, params as never[]) as {cursor(n: number): AsyncIterable<T[]>}
      for await (const rows of pending.cursor(chunkSize)) yield [...rows]
    })
  }
}

type Reserved = {unsafe: (q: string, p?: never[]) => unknown; release(): void}

/**
 * Behind a pooler, a read (a cursor, a COPY) on one reserved connection in a
 * read-only transaction whose first statement (`setLocal`) bounds its lock
 * waits: the transaction keeps the pooler's server session for the whole
 * read. Rolled back and released afterwards; the rollback is waited for at
 * most `rollbackWaitMs` (a connection still busy is left to close).
 */
export async function* readOnlySession<T>(
  client: {reserve(): Promise<Reserved>},
  setLocal: string,
  read: (conn: Reserved) => AsyncGenerator<T>,
  rollbackWaitMs = 2000,
): AsyncGenerator<T> {
  const conn = await client.reserve()
  let open = false
  try {
    await conn.unsafe('begin transaction read only')
    open = true
    await conn.unsafe(setLocal)
    yield* read(conn)
  } finally {
    if (open)
      await within(
        rollbackWaitMs,
        Promise.resolve(conn.unsafe('rollback')).catch(() => {}),
      )
    conn.release()
  }
}

/** Wait for `promise`, or `ms` at most. */
export async function within(ms: number, promise: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const elapsed = new Promise((resolve) => {
    timer = setTimeout(resolve, ms)
  })
  await Promise.race([promise, elapsed])
  clearTimeout(timer)
}

/** A statement's text and parameters as drizzle's PostgreSQL dialect renders them. */
export function sqlText(db: Db, query: SQL): {sql: string; params: unknown[]} {
  const dialect = (db as unknown as {dialect: {sqlToQuery(q: SQL): {sql: string; params: unknown[]}}}).dialect
  return dialect.sqlToQuery(query)
}

/**
 * Text of a timestamp as the database prints it (`2026-01-02 03:04:05.123456`,
 * UTC wall-clock time) to ISO-8601 UTC, as the tool shows every instant.
 * Select `timestamptz` columns `at time zone 'UTC'` first.
 */
export function utcIso(text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null
  return new Date(`${text.replace(' ', 'T')}Z`).toISOString()
}
