/**
 * The one formula guard of every CSV the tool writes (`users list --format
 * csv`, `--keys-out`, the sealed keys CSV), and its inverse for `users
 * import`, so export → import is exact. A cell a spreadsheet would run as a
 * formula (OWASP CSV injection) starts with =, +, -, @, a tab or a carriage
 * return (or the full-width ＝ ＋ － ＠); such a cell, and one that already
 * starts with ', gets one leading '. unguardCell(guardCell(x)) === x for any
 * string x.
 */
import {type SQL, sql} from 'drizzle-orm'
import {textLiteral} from '../db/format-sql.js'

/**
 * The first characters that make a cell risky, as one regular expression
 * class that JavaScript and PostgreSQL's advanced regular expressions read
 * alike (escapes \t, \r, \uXXXX; the hyphen last), so the guard PostgreSQL
 * applies to the CSV it writes (guardCellSql, for COPY) is this very rule.
 */
export const RISKY_START = "[=+@\\t\\r'\\uFF1D\\uFF0B\\uFF0D\\uFF20-]"
const RISKY = new RegExp(`^${RISKY_START}`)
const GUARDED = new RegExp(`^'${RISKY_START}`)

export function guardCell(value: string): string {
  return RISKY.test(value) ? `'${value}` : value
}

export function unguardCell(value: string): string {
  return GUARDED.test(value) ? value.slice(1) : value
}

/** guardCell in SQL: the same class (RISKY_START), as an escape string literal. */
export function guardCellSql(value: SQL): SQL {
  return sql`(case when (${value}) ~ ${textLiteral(`^${RISKY_START}`)} then '''' || (${value}) else (${value}) end)`
}
