/**
 * The one formula guard of every CSV the tool writes (`users list --format
 * csv`, `--keys-out`, the sealed keys CSV), and its inverse for `users
 * import`, so export → import is exact. A cell a spreadsheet would run as a
 * formula (OWASP CSV injection) starts with =, +, -, @, a tab or a carriage
 * return (or the full-width ＝ ＋ － ＠); such a cell, and one that already
 * starts with ', gets one leading '. unguardCell(guardCell(x)) === x for any
 * string x.
 */
const RISKY = /^[=+\-@\t\r'\uFF1D\uFF0B\uFF0D\uFF20]/
const GUARDED = /^'[=+\-@\t\r'\uFF1D\uFF0B\uFF0D\uFF20]/

export function guardCell(value: string): string {
  return RISKY.test(value) ? `'${value}` : value
}

export function unguardCell(value: string): string {
  return GUARDED.test(value) ? value.slice(1) : value
}
