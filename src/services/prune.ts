/**
 * prune-inactive: deactivate or delete users inactive for N days, built for
 * cron. Works in batches, each its own transaction, paging by key (users.id,
 * no OFFSET), so memory stays flat, a crash loses at most the batch in flight
 * and running again finishes the job. The statements that change a batch
 * lock its users and re-check inactivity, so a user who logs in meanwhile is
 * kept (counted as skipped).
 */
import {sql} from 'drizzle-orm'
import type {Database, Db} from '../db/client.js'
import {isDeactivated, lastSeen, lastSeenBefore, rows} from '../db/sql.js'
import {fetchSize} from '../db/stream.js'
import {naiveIso} from '../db/time.js'
import {recordAudit} from './audit.js'
import type {ServiceContext} from './context.js'
import {deactivateUsersIn, deleteUsersIn, deletionAudit, otherOwnersAudit} from './lifecycle.js'
import {requireUsers} from './user-lookup.js'
import {inactiveCutoff} from './users.js'

export type PruneMode = 'deactivate' | 'delete'
export const PRUNE_MODES: PruneMode[] = ['deactivate', 'delete']

export interface PruneInput {
  days: number
  mode: PruneMode
  exclude?: string[]
  limit?: number
  dryRun?: boolean
  batchSize?: number
}

export interface PruneUser {
  userId: string
  lastSeenAt: string | null
}

export interface PruneResult {
  days: number
  mode: PruneMode
  cutoffAt: string
  matchedCount: number
  changedCount: number
  skippedCount: number
  dryRun: boolean
  durationMs: number
  userIds: string[]
}

export interface PruneHooks {
  /** Called with each page of selected users before the transaction that changes them. */
  beforeBatch?: (userIds: string[]) => Promise<void>
  /** Called once the number of users to process is known. */
  onStart?: (matched: number) => void
  /** Called after each committed batch with the running totals. */
  onBatch?: (done: {changed: number; skipped: number}) => void
}

export const DEFAULT_BATCH_SIZE = 2000

/** The run lock that lets one prune-inactive run at a time, and what a second run is told. */
export const PRUNE_LOCK = 'prune-inactive'
export const PRUNE_BUSY =
  'Another prune-inactive run holds the run lock on this database; try again when it has finished.'

function selection(cutoff: Date, mode: PruneMode, exclude: string[], after?: string) {
  const conditions = [lastSeenBefore(cutoff, 'u')]
  if (exclude.length > 0) conditions.push(sql`u.user_id not in ${exclude}`)
  if (mode === 'deactivate') {
    // Already deactivated users have nothing left to switch off.
    conditions.push(sql`not ${isDeactivated('u')}`)
  }
  if (after) conditions.push(sql`u.id > ${after}::uuid`)
  return sql.join(conditions, sql` and `)
}

/** How many users a run would change (before --limit). */
export async function countInactive(
  db: Db,
  cutoff: Date,
  mode: PruneMode,
  exclude: string[],
): Promise<number> {
  const [row] = await rows<{n: number}>(
    db,
    sql`select count(*)::int as n from users u where ${selection(cutoff, mode, exclude)}`,
  )
  return Number(row?.n ?? 0)
}

async function nextPage(
  db: Db,
  cutoff: Date,
  mode: PruneMode,
  exclude: string[],
  after: string | undefined,
  size: number,
) {
  return rows<{id: string; user_id: string; last_seen: string | null}>(
    db,
    sql`select u.id::text as id, u.user_id, ${naiveIso(lastSeen('u'))} as last_seen
        from users u where ${selection(cutoff, mode, exclude, after)}
        order by u.id limit ${size}`,
  )
}

/** The users a run would change, by key (users.id), as one statement: for --dry-run. */
export function inactiveSql(cutoff: Date, input: PruneInput) {
  const limit = input.limit === undefined ? sql`` : sql` limit ${input.limit}`
  return sql`select u.user_id, ${naiveIso(lastSeen('u'))} as last_seen
      from users u where ${selection(cutoff, input.mode, input.exclude ?? [])}
      order by u.id${limit}`
}

type InactiveRow = {user_id: string; last_seen: string | null}

function pruneUser(r: InactiveRow): PruneUser {
  return {userId: r.user_id, lastSeenAt: r.last_seen}
}

/** The users a run would change (in memory); for --dry-run in the service. */
export async function listInactive(
  db: Db,
  input: PruneInput,
  ctx: Pick<ServiceContext, 'now'>,
): Promise<{cutoff: Date; users: PruneUser[]}> {
  const cutoff = inactiveCutoff(ctx.now(), input.days)
  return {cutoff, users: (await rows<InactiveRow>(db, inactiveSql(cutoff, input))).map(pruneUser)}
}

/** The same list in chunks as the database produces them; leaving the loop cancels the query. */
export async function* streamInactive(
  database: Pick<Database, 'cursor'>,
  input: PruneInput,
  cutoff: Date,
  chunkSize = fetchSize(),
): AsyncGenerator<PruneUser[]> {
  for await (const chunk of database.cursor<InactiveRow>(inactiveSql(cutoff, input), chunkSize)) {
    yield chunk.map(pruneUser)
  }
}

export async function pruneInactive(
  db: Db,
  input: PruneInput,
  ctx: ServiceContext,
  hooks: PruneHooks = {},
): Promise<PruneResult> {
  const started = Date.now()
  const cutoff = inactiveCutoff(ctx.now(), input.days)
  const exclude = input.exclude ?? []
  await requireUsers(db, exclude)
  const limit = input.limit ?? Number.POSITIVE_INFINITY
  const size = input.batchSize ?? DEFAULT_BATCH_SIZE
  const base = {days: input.days, mode: input.mode, cutoffAt: cutoff.toISOString()}

  if (input.dryRun) {
    const {users} = await listInactive(db, input, ctx)
    return {
      ...base,
      matchedCount: users.length,
      changedCount: 0,
      skippedCount: 0,
      dryRun: true,
      durationMs: Date.now() - started,
      userIds: users.map((u) => u.userId),
    }
  }

  const matched = Math.min(await countInactive(db, cutoff, input.mode, exclude), limit)
  hooks.onStart?.(matched)
  const changedUsers: string[] = []
  let skipped = 0
  let after: string | undefined
  while (changedUsers.length < limit) {
    const page = await nextPage(
      db,
      cutoff,
      input.mode,
      exclude,
      after,
      Math.min(size, limit - changedUsers.length),
    )
    if (page.length === 0) break
    after = page[page.length - 1].id
    const ids = page.map((p) => p.id)
    await hooks.beforeBatch?.(page.map((p) => p.user_id))
    const changed = await db.transaction(async (tx) => {
      if (input.mode === 'deactivate') {
        const results = await deactivateUsersIn(
          tx,
          ids,
          {inactiveBefore: cutoff, reason: `prune-inactive: no activity for ${input.days} days`},
          ctx,
        )
        return results.map((r) => r.userId)
      }
      const r = await deleteUsersIn(tx, ids, {inactiveBefore: cutoff})
      await recordAudit(tx, ctx, [
        ...r.users.map((u) =>
          deletionAudit(u.userId, {reason: `prune-inactive: no activity for ${input.days} days`}),
        ),
        ...otherOwnersAudit(r.otherOwners),
      ])
      return r.users.map((u) => u.userId)
    })
    changedUsers.push(...changed)
    skipped += page.length - changed.length
    hooks.onBatch?.({changed: changedUsers.length, skipped})
  }
  return {
    ...base,
    matchedCount: matched,
    changedCount: changedUsers.length,
    skippedCount: skipped,
    dryRun: false,
    durationMs: Date.now() - started,
    userIds: changedUsers,
  }
}

/** Cutoff and how many users a run would change now: for the confirmation before a run. */
export async function planPrune(
  db: Db,
  input: PruneInput,
  ctx: Pick<ServiceContext, 'now'>,
): Promise<{cutoffAt: string; matchedCount: number}> {
  const cutoff = inactiveCutoff(ctx.now(), input.days)
  await requireUsers(db, input.exclude ?? [])
  const n = await countInactive(db, cutoff, input.mode, input.exclude ?? [])
  return {
    cutoffAt: cutoff.toISOString(),
    matchedCount: Math.min(n, input.limit ?? Number.POSITIVE_INFINITY),
  }
}
