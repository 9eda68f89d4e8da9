/**
 * Bulk statements bind a list as ONE array parameter instead of one parameter
 * per item, so no batch size reaches the protocol's limit of 65,535 bind
 * parameters. The array travels as PostgreSQL array text.
 */
import {type SQL, sql} from 'drizzle-orm'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** `= any(...)` operand for a list of uuids: `where u.id = ${anyUuid(ids)}`. */
export function anyUuid(ids: readonly string[]): SQL {
  for (const id of ids) if (!UUID.test(id)) throw new TypeError('anyUuid: not a uuid')
  return sql`any(${`{${ids.join(',')}}`}::uuid[])`
}

/** Rows per multi-row INSERT: keeps rows x columns well under 65,535 parameters. */
export const INSERT_CHUNK_ROWS = 1000

/** Split rows into chunks of at most `size`. */
export function chunks<T>(rows: readonly T[], size = INSERT_CHUNK_ROWS): T[][] {
  const out: T[][] = []
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size))
  return out
}
