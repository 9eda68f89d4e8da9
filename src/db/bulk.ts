/**
 * Multi-row statements within PostgreSQL's limit of 65,535 bind parameters
 * per statement (the wire protocol counts them in 16 bits).
 */
export const MAX_BIND_PARAMETERS = 65_535

/** How many rows of `columns` parameters one statement may carry (at most `cap`). */
export function rowsPerStatement(columns: number, cap = 1000): number {
  return Math.max(1, Math.min(cap, Math.floor(MAX_BIND_PARAMETERS / Math.max(1, columns))))
}

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
