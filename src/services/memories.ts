/**
 * Memory counts per user (and per app) by state: one grouped statement
 * whatever the number of users, pivoted in SQL (one row per user or app, a
 * column per state), so it streams row by row. States come from the
 * database's own enum, so an upstream database also shows `paused`.
 */
import {type SQL, sql} from 'drizzle-orm'
import type {Database, Db} from '../db/client.js'
import {rows} from '../db/sql.js'
import {fetchSize} from '../db/stream.js'
import {memoryStates} from './lifecycle.js'
import {userNotFound} from './user-lookup.js'

export interface MemoryCountRow {
  userId: string
  appName?: string
  byState: Record<string, number>
  memoryCount: number
}

export interface MemoriesCountResult {
  states: string[]
  byApp: boolean
  rows: MemoryCountRow[]
  totals: {byState: Record<string, number>; memoryCount: number}
}

export interface CountMemoriesInput {
  userId?: string
  byApp?: boolean
  limit?: number
}

/** What a streamed count needs before its rows: the states, and the user checked to exist. */
export interface MemoryCountPlan {
  states: string[]
  byApp: boolean
  query: SQL
  /** Folds a row into running totals (the totals row of the output). */
  totals: {byState: Record<string, number>; memoryCount: number}
}

function zero(states: string[]): Record<string, number> {
  return Object.fromEntries(states.map((s) => [s, 0]))
}

/** users → (apps →) memories, the joins of the listing, its totals and its count. */
function countFrom(byApp: boolean, userId: string | undefined): SQL {
  const joins = byApp
    ? sql`from users u left join apps a on a.owner_id = u.id left join memories m on m.app_id = a.id`
    : sql`from users u left join memories m on m.user_id = u.id`
  return userId === undefined ? joins : sql`${joins} where u.user_id = ${userId}`
}

function countSql(states: string[], input: CountMemoriesInput): SQL {
  const byApp = Boolean(input.byApp)
  const perState = sql.join(
    states.map((s, i) => sql`count(m.id) filter (where m.state::text = ${s})::int as ${sql.raw(`s${i}`)}`),
    sql`, `,
  )
  const limit = input.limit === undefined ? sql`` : sql` limit ${input.limit}`
  return byApp
    ? sql`select u.user_id, a.name::text as app, ${perState}, count(m.id)::int as total
          ${countFrom(true, input.userId)}
          group by u.id, u.user_id, a.id, a.name
          order by u.user_id, a.name${limit}`
    : sql`select u.user_id, null::text as app, ${perState}, count(m.id)::int as total
          ${countFrom(false, input.userId)}
          group by u.id, u.user_id
          order by u.user_id${limit}`
}

type CountRow = {user_id: string; app: string | null; total: number} & Record<string, unknown>

function countRow(states: string[], byApp: boolean, r: CountRow): MemoryCountRow {
  const counts = zero(states)
  states.forEach((s, i) => {
    counts[s] = Number(r[`s${i}`] ?? 0)
  })
  return {
    userId: r.user_id,
    ...(byApp ? {appName: r.app ?? '(no apps)'} : {}),
    byState: counts,
    memoryCount: Number(r.total),
  }
}

function addTo(totals: MemoryCountPlan['totals'], row: MemoryCountRow): void {
  for (const [s, n] of Object.entries(row.byState)) totals.byState[s] = (totals.byState[s] ?? 0) + n
  totals.memoryCount += row.memoryCount
}

/** States, the user checked (UserNotFoundError, exit 3, before any output), and the statement. */
export async function planMemoryCount(db: Db, input: CountMemoriesInput = {}): Promise<MemoryCountPlan> {
  const states = await memoryStates(db)
  if (input.userId !== undefined) {
    const found = await rows(db, sql`select 1 from users where user_id = ${input.userId} limit 1`)
    if (found.length === 0) throw await userNotFound(db, input.userId)
  }
  return {
    states,
    byApp: Boolean(input.byApp),
    query: countSql(states, input),
    totals: {byState: zero(states), memoryCount: 0},
  }
}

/** The rows in chunks as the database produces them, added to `plan.totals` as they pass. */
export async function* streamMemoryCounts(
  database: Pick<Database, 'cursor'>,
  plan: MemoryCountPlan,
  chunkSize = fetchSize(),
): AsyncGenerator<MemoryCountRow[]> {
  for await (const chunk of database.cursor<CountRow>(plan.query, chunkSize)) {
    const out = chunk.map((r) => countRow(plan.states, plan.byApp, r))
    for (const row of out) addTo(plan.totals, row)
    yield out
  }
}

/** Totals over every row (a terminal page shows only some rows, but the totals of all). */
export async function memoryTotals(
  db: Db,
  plan: MemoryCountPlan,
  input: CountMemoriesInput,
): Promise<MemoriesCountResult['totals']> {
  const byState = await rows<{state: string; n: number}>(
    db,
    sql`select m.state::text as state, count(m.id)::int as n ${countFrom(plan.byApp, input.userId)}
        ${input.userId === undefined ? sql`where` : sql`and`} m.id is not null group by m.state`,
  )
  const totals = {byState: zero(plan.states), memoryCount: 0}
  for (const r of byState) {
    totals.byState[r.state] = (totals.byState[r.state] ?? 0) + Number(r.n)
    totals.memoryCount += Number(r.n)
  }
  return totals
}

/** How many rows the count has without --limit (users, or user-app pairs). */
export async function countMemoryRows(db: Db, input: CountMemoriesInput): Promise<number> {
  const from = input.byApp ? sql`from users u left join apps a on a.owner_id = u.id` : sql`from users u`
  const where = input.userId === undefined ? sql`` : sql` where u.user_id = ${input.userId}`
  const [row] = await rows<{n: number}>(db, sql`select count(*)::int as n ${from}${where}`)
  return Number(row?.n ?? 0)
}

/** The whole count in memory (the interactive menu, tests); the command streams it. */
export async function countMemories(db: Db, input: CountMemoriesInput = {}): Promise<MemoriesCountResult> {
  const plan = await planMemoryCount(db, input)
  const counted = (await rows<CountRow>(db, plan.query)).map((r) => countRow(plan.states, plan.byApp, r))
  for (const row of counted) addTo(plan.totals, row)
  return {states: plan.states, byApp: plan.byApp, rows: counted, totals: plan.totals}
}
