/**
 * Time as the server keeps it. The server's timestamp columns are naive
 * (`timestamp without time zone`); it writes aware UTC datetimes
 * (`datetime.now(datetime.UTC)`, zinohome/openmemory-multiuser api/app/models.py
 * and auth.py at 541f4739), which PostgreSQL stores as wall-clock time in the
 * session's TimeZone: the database's own, since the server sets none. So a
 * naive value means "this wall-clock time in the database's TimeZone".
 *
 * The tool keeps the database's TimeZone too (it sets none) and converts in
 * SQL, here and only here, so every zone PostgreSQL knows works:
 * - `naiveAt(instant)`: an instant as the naive value the server would store
 *   (writes, cut-offs);
 * - `naiveIso(column)`: a naive value as the instant it means, ISO 8601 UTC
 *   with `Z` (every read that shows a time).
 * The tool's own columns are `timestamptz` and need neither.
 */
import {type SQL, sql} from 'drizzle-orm'
import {customType} from 'drizzle-orm/pg-core'

/** An instant as the server's naive timestamp (wall time in the session's, i.e. the database's, TimeZone). */
export function naiveAt(instant: Date): SQL {
  return sql`(${instant.toISOString()}::timestamptz)::timestamp`
}

/** A naive timestamp expression as the instant it means: ISO 8601 UTC text with milliseconds and `Z`, or null. */
export function naiveIso(value: SQL | unknown): SQL<string | null> {
  return sql<
    string | null
  >`to_char((${value})::timestamptz at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
}

/**
 * The server's naive timestamp columns. Written from a Date through
 * `naiveAt`. Read raw, a value is a wall-clock time, not an instant (the Date
 * drizzle hands back holds that wall time as if it were UTC): show times by
 * selecting `naiveIso(column)`.
 */
export const naiveTimestamp = customType<{data: Date; driverData: string}>({
  dataType: () => 'timestamp',
  toDriver: (value: Date) => naiveAt(value) as unknown as string,
  fromDriver: (value: string) => new Date(`${String(value).replace(' ', 'T')}Z`),
})
