/**
 * Memory counts per user (and per app) by state: one grouped query whatever
 * the number of users. States come from the database's own enum, so an
 * upstream database also shows `paused`.
 */
import {sql} from 'drizzle-orm'
import type {Db} from '../db/client.js'
import {memoryStates, sqlRows} from './lifecycle.js'
import {userNotFound} from './user-lookup.js'

export interface MemoryCountRow {
  userId: string
  app?: string
  counts: Record<string, number>
  total: number
}

export interface MemoriesCountResult {
  states: string[]
  byApp: boolean
  rows: MemoryCountRow[]
  totals: {counts: Record<string, number>; total: number}
}

export async function countMemories(
  db: Db,
  opts: {userId?: string; byApp?: boolean} = {},
): Promise<MemoriesCountResult> {
  const states = await memoryStates(db)
  const where = opts.userId ? sql`where u.user_id = ${opts.userId}` : sql``
  const rows = opts.byApp
    ? await sqlRows<{user_id: string; app: string | null; state: string | null; n: number}>(
        db,
        sql`select u.user_id, a.name::text as app, m.state::text as state, count(m.id)::int as n
            from users u
            left join apps a on a.owner_id = u.id
            left join memories m on m.app_id = a.id
            ${where}
            group by u.user_id, a.name, m.state
            order by u.user_id, a.name`,
      )
    : await sqlRows<{user_id: string; app: string | null; state: string | null; n: number}>(
        db,
        sql`select u.user_id, null::text as app, m.state::text as state, count(m.id)::int as n
            from users u left join memories m on m.user_id = u.id
            ${where}
            group by u.user_id, m.state
            order by u.user_id`,
      )
  if (opts.userId && rows.length === 0) throw await userNotFound(db, opts.userId)

  const zero = () => Object.fromEntries(states.map((s) => [s, 0])) as Record<string, number>
  const out = new Map<string, MemoryCountRow>()
  const totals = {counts: zero(), total: 0}
  for (const r of rows) {
    const key = opts.byApp ? `${r.user_id}\u0000${r.app ?? ''}` : r.user_id
    if (!out.has(key)) {
      out.set(key, {
        userId: r.user_id,
        ...(opts.byApp ? {app: r.app ?? '(no apps)'} : {}),
        counts: zero(),
        total: 0,
      })
    }
    const row = out.get(key)!
    const n = Number(r.n)
    if (n === 0) continue
    if (r.state) {
      row.counts[r.state] = (row.counts[r.state] ?? 0) + n
      totals.counts[r.state] = (totals.counts[r.state] ?? 0) + n
    }
    row.total += n
    totals.total += n
  }
  return {states, byApp: Boolean(opts.byApp), rows: [...out.values()], totals}
}
