/**
 * The user lifecycle after creation: show, deactivate / reactivate (exactly
 * reversible), delete (everything that references the user, one transaction).
 * Every change is one transaction with its audit rows.
 */
import {and, eq, inArray, sql} from 'drizzle-orm'
import {anyUuid} from '../db/arrays.js'
import type {Db} from '../db/client.js'
import {apiKeys, apps, deactivations, users} from '../db/schema.js'
import {inSnapshot, isDeactivated, lastSeenBefore, memoryStateLabels, rows, tableExists} from '../db/sql.js'
import {naiveAt, naiveIso} from '../db/time.js'
import {lockWaitError} from '../errors.js'
import {type AuditEntry, recordAudit} from './audit.js'
import type {ServiceContext} from './context.js'
import {fingerprint} from './keys.js'
import {userNotFound} from './user-lookup.js'
import {getUser} from './users.js'
import {parseReason} from './validation.js'

/**
 * Run a change in one transaction, or a dry run of it in a read-only snapshot
 * (which takes no row locks, so it never waits for nor blocks another session).
 */
export function change<T>(db: Db, dryRun: boolean | undefined, fn: (tx: Db) => Promise<T>): Promise<T> {
  return dryRun ? inSnapshot(db, fn) : db.transaction((tx) => fn(tx as unknown as Db))
}

/** The user row, locked for the rest of the transaction (serialises changes to one user). */
export async function lockUser(tx: Db, userId: string) {
  const [user] = await tx
    .select()
    .from(users)
    .where(eq(users.userId, userId))
    .for('update')
    .limit(1)
    .catch((error: unknown) => {
      throw lockWaitError(error, `user '${userId}'`)
    })
  if (!user) throw await userNotFound(tx, userId)
  return user
}

// ---------------------------------------------------------------------------
// show

export type StateCounts = Record<string, number>

export interface UsersShowResult {
  id: string
  userId: string
  name: string | null
  email: string | null
  createdAt: string | null
  updatedAt: string | null
  lastActiveAt: string | null
  deactivated: boolean
  deactivatedAt: string | null
  deactivationReason: string | null
  key: {
    keyStatus: 'active' | 'revoked'
    keyFingerprint: string
    createdAt: string | null
    lastUsedAt: string | null
  } | null
  apps: {
    id: string
    name: string
    /** apps.is_active: whether the server accepts memory writes through the app. */
    enabled: boolean
    createdAt: string | null
    byState: StateCounts
    memoryCount: number
  }[]
  byState: StateCounts
  memoryCount: number
}

/** The memory states this database's enum has, in order (upstream adds `paused`). */
export async function memoryStates(db: Db): Promise<string[]> {
  const labels = await memoryStateLabels(db)
  return labels.length > 0 ? labels : ['active', 'archived', 'deleted']
}

function emptyCounts(states: string[]): StateCounts {
  return Object.fromEntries(states.map((s) => [s, 0]))
}

export async function showUser(db: Db, userId: string): Promise<UsersShowResult> {
  const user = await getUser(db, userId)
  // Times as the instants they mean (db/time.ts), not the raw naive values.
  const [times] = await db
    .select({
      createdAt: naiveIso(users.createdAt),
      updatedAt: naiveIso(users.updatedAt),
      lastActive: naiveIso(users.lastActive),
    })
    .from(users)
    .where(eq(users.id, user.id))
  const [key] = await db
    .select({
      isActive: apiKeys.isActive,
      keyHash: apiKeys.keyHash,
      createdAt: naiveIso(apiKeys.createdAt),
      lastUsed: naiveIso(apiKeys.lastUsed),
    })
    .from(apiKeys)
    .where(eq(apiKeys.userId, user.id))
    .limit(1)
  const [deactivation] = await db
    .select()
    .from(deactivations)
    .where(eq(deactivations.userUuid, user.id))
    .limit(1)
  const appRows = await db
    .select({id: apps.id, name: apps.name, isActive: apps.isActive, createdAt: naiveIso(apps.createdAt)})
    .from(apps)
    .where(eq(apps.ownerId, user.id))
    .orderBy(apps.name)
  const states = await memoryStates(db)
  const counts = await rows<{app_id: string; state: string | null; n: number}>(
    db,
    sql`select app_id::text as app_id, state::text as state, count(*)::int as n
        from memories where user_id = ${user.id} group by app_id, state`,
  )
  const byApp = new Map<string, StateCounts>()
  const totals = emptyCounts(states)
  let total = 0
  const appTotals = new Map<string, number>()
  for (const c of counts) {
    const n = Number(c.n)
    if (!byApp.has(c.app_id)) byApp.set(c.app_id, emptyCounts(states))
    if (c.state) {
      byApp.get(c.app_id)![c.state] = (byApp.get(c.app_id)![c.state] ?? 0) + n
      totals[c.state] = (totals[c.state] ?? 0) + n
    }
    appTotals.set(c.app_id, (appTotals.get(c.app_id) ?? 0) + n)
    total += n
  }
  return {
    id: user.id,
    userId: user.userId,
    name: user.name,
    email: user.email,
    createdAt: times?.createdAt ?? null,
    updatedAt: times?.updatedAt ?? null,
    lastActiveAt: times?.lastActive ?? null,
    deactivated: Boolean(deactivation),
    deactivatedAt: deactivation ? deactivation.deactivatedAt.toISOString() : null,
    deactivationReason: deactivation?.reason ?? null,
    key: key
      ? {
          keyStatus: key.isActive ? 'active' : 'revoked',
          keyFingerprint: fingerprint(key.keyHash),
          createdAt: key.createdAt,
          lastUsedAt: key.lastUsed,
        }
      : null,
    apps: appRows.map((a) => ({
      id: a.id,
      name: a.name,
      enabled: Boolean(a.isActive),
      createdAt: a.createdAt,
      byState: byApp.get(a.id) ?? emptyCounts(states),
      memoryCount: appTotals.get(a.id) ?? 0,
    })),
    byState: totals,
    memoryCount: total,
  }
}

// ---------------------------------------------------------------------------
// deactivate / reactivate

export interface DeactivateResult {
  userId: string
  changed: boolean
  dryRun: boolean
  keyDeactivated: boolean
  appsDeactivated: string[]
  deactivationReason: string | null
}

export interface SetOptions {
  /** Re-check, in the changing statements, that the user is still inactive before this time (prune). */
  inactiveBefore?: Date
  dryRun?: boolean
}

/**
 * Lock the given users for the rest of the transaction and keep those that
 * still qualify: not deactivated already (for deactivation), and still
 * inactive before the cutoff when one is given. One statement, set-based.
 */
async function lockQualifying(
  tx: Db,
  uuids: string[],
  opts: SetOptions & {skipDeactivated?: boolean},
): Promise<{id: string; user_id: string}[]> {
  if (uuids.length === 0) return []
  const conditions = [sql`u.id = ${anyUuid(uuids)}`]
  if (opts.inactiveBefore) {
    conditions.push(lastSeenBefore(opts.inactiveBefore, 'u'))
  }
  if (opts.skipDeactivated) {
    conditions.push(sql`not ${isDeactivated('u')}`)
  }
  // A dry run only reads: it locks nothing.
  const lock = opts.dryRun ? sql`` : sql`for update of u`
  return rows<{id: string; user_id: string}>(
    tx,
    sql`select u.id::text as id, u.user_id from users u where ${sql.join(conditions, sql` and `)}
        order by u.id ${lock}`,
  ).catch((error: unknown) => {
    throw lockWaitError(error, `the ${uuids.length} user(s) of this batch`)
  })
}

/**
 * Deactivate a set of users in the caller's transaction: key inactive, every
 * active app inactive, and what was switched off recorded so reactivation
 * restores exactly that. Users already deactivated are skipped.
 */
export async function deactivateUsersIn(
  tx: Db,
  uuids: string[],
  opts: SetOptions & {reason?: string},
  ctx: ServiceContext,
): Promise<DeactivateResult[]> {
  const locked = await lockQualifying(tx, uuids, {...opts, skipDeactivated: true})
  if (locked.length === 0) return []
  const targets = await rows<{
    id: string
    user_id: string
    key_active: boolean | null
    active_apps: string[] | null
  }>(
    tx,
    sql`select u.id::text as id, u.user_id, k.is_active as key_active,
               (select array_agg(a.name::text order by a.name) from apps a
                 where a.owner_id = u.id and a.is_active) as active_apps
        from users u left join api_keys k on k.user_id = u.id
        where u.id = ${anyUuid(locked.map((l) => l.id))} order by u.user_id`,
  )
  const results = targets.map((t) => ({
    userId: t.user_id,
    changed: true,
    dryRun: Boolean(opts.dryRun),
    keyDeactivated: t.key_active === true,
    appsDeactivated: t.active_apps ?? [],
    deactivationReason: opts.reason ?? null,
  }))
  if (opts.dryRun || targets.length === 0) return results
  const ids = targets.map((t) => t.id)
  const now = ctx.now().toISOString()
  await tx.execute(sql`
    insert into openmemory_admin.deactivations (user_uuid, deactivated_at, reason, key_switched_off, app_ids)
    select u.id, ${now}::timestamptz, ${opts.reason ?? null}, coalesce(k.is_active, false),
           coalesce((select array_agg(a.id) from apps a where a.owner_id = u.id and a.is_active), '{}')
    from users u left join api_keys k on k.user_id = u.id
    where u.id = ${anyUuid(ids)}`)
  await tx.execute(sql`update api_keys set is_active = false where user_id = ${anyUuid(ids)} and is_active`)
  await tx.execute(
    sql`update apps set is_active = false, updated_at = ${naiveAt(ctx.now())} where owner_id = ${anyUuid(ids)} and is_active`,
  )
  await recordAudit(tx, ctx, results.map(deactivationAudit))
  return results
}

export function deactivationAudit(r: DeactivateResult): AuditEntry {
  return {
    targetUserId: r.userId,
    outcome: 'changed',
    details: {
      action: 'deactivate',
      reason: r.deactivationReason,
      keyDeactivated: r.keyDeactivated,
      appsDeactivated: r.appsDeactivated,
    },
  }
}

/** Deactivate one user. Idempotent: an already deactivated user is reported unchanged. */
export async function deactivateUser(
  db: Db,
  userId: string,
  opts: {reason?: string; dryRun?: boolean},
  ctx: ServiceContext,
): Promise<DeactivateResult> {
  if (opts.reason !== undefined) parseReason(opts.reason)
  // A dry run reads a snapshot and locks nothing.
  return change(db, opts.dryRun, async (tx) => {
    const user = opts.dryRun ? await getUser(tx, userId) : await lockUser(tx, userId)
    const [r] = await deactivateUsersIn(tx, [user.id], opts, ctx)
    return (
      r ?? {
        userId,
        changed: false,
        dryRun: Boolean(opts.dryRun),
        keyDeactivated: false,
        appsDeactivated: [],
        deactivationReason: opts.reason ?? null,
      }
    )
  })
}

export interface ReactivateResult {
  userId: string
  changed: boolean
  keyReactivated: boolean
  appsReactivated: string[]
}

/** Restore exactly what `deactivate` switched off. Idempotent. */
export async function reactivateUser(db: Db, userId: string, ctx: ServiceContext): Promise<ReactivateResult> {
  return db.transaction(async (tx) => {
    const user = await lockUser(tx, userId)
    const [d] = await tx.select().from(deactivations).where(eq(deactivations.userUuid, user.id)).limit(1)
    if (!d) return {userId, changed: false, keyReactivated: false, appsReactivated: []}
    const now = ctx.now()
    let keyReactivated = false
    if (d.keySwitchedOff) {
      const updated = await tx
        .update(apiKeys)
        .set({isActive: true})
        .where(eq(apiKeys.userId, user.id))
        .returning({id: apiKeys.id})
      keyReactivated = updated.length > 0
    }
    let restored: {name: string}[] = []
    if (d.appIds.length > 0) {
      restored = await tx
        .update(apps)
        .set({isActive: true, updatedAt: now})
        .where(and(eq(apps.ownerId, user.id), inArray(apps.id, d.appIds)))
        .returning({name: apps.name})
    }
    await tx.delete(deactivations).where(eq(deactivations.userUuid, user.id))
    const appsReactivated = restored.map((a) => a.name).sort()
    await recordAudit(tx, ctx, [
      {
        targetUserId: userId,
        outcome: 'changed',
        details: {action: 'reactivate', keyReactivated, appsReactivated},
      },
    ])
    return {userId, changed: true, keyReactivated, appsReactivated}
  })
}

// ---------------------------------------------------------------------------
// delete

export interface DeleteResult {
  userId: string
  dryRun: boolean
  /** Rows removed (or, in a dry run, that would be) per table, in deletion order. */
  rowsByTable: Record<string, number>
  rowCount: number
  /**
   * Rows of other users that go too: memories they wrote through an app of the
   * deleted user (cross-user rows, which `db verify` reports), per owner.
   * Each owner also gets an audit row of their own.
   */
  otherOwners: OtherOwnerRows[]
}

/** Memories owned by `userId` removed because they sit in an app of `appOwner`, who is deleted. */
export interface OtherOwnerRows {
  userId: string
  appOwner: string
  memoryCount: number
}

type Step = {table: string; where: ReturnType<typeof sql>}

/**
 * The statements that remove a set of users and everything that references
 * them, in an order that satisfies the foreign keys. Set-based: the same
 * number of statements for one user or a thousand. The users' app ids are
 * passed as a list so PostgreSQL can combine index scans on memories.
 */
async function deletionPlan(db: Db, ids: string[]): Promise<Step[]> {
  const appIds = (
    await rows<{id: string}>(db, sql`select id::text as id from apps where owner_id = ${anyUuid(ids)}`)
  ).map((a) => a.id)
  const ofUsers =
    appIds.length > 0
      ? sql`(user_id = ${anyUuid(ids)} or app_id = ${anyUuid(appIds)})`
      : sql`user_id = ${anyUuid(ids)}`
  // `= any(array(...))` makes PostgreSQL probe the referencing tables' memory_id
  // indexes instead of scanning them whole for every batch.
  const userMemories = sql`any(array(select id from memories where ${ofUsers}))`
  const plan: Step[] = [{table: 'memory_categories', where: sql`memory_id = ${userMemories}`}]
  if (await tableExists(db, 'public.memory_access_logs')) {
    plan.push({
      table: 'memory_access_logs',
      where:
        appIds.length > 0
          ? sql`memory_id = ${userMemories} or app_id = ${anyUuid(appIds)}`
          : sql`memory_id = ${userMemories}`,
    })
  }
  if (await tableExists(db, 'public.memory_status_history')) {
    plan.push({
      table: 'memory_status_history',
      where: sql`memory_id = ${userMemories} or changed_by = ${anyUuid(ids)}`,
    })
  }
  plan.push(
    {table: 'memories', where: ofUsers},
    {table: 'apps', where: sql`owner_id = ${anyUuid(ids)}`},
    {table: 'api_keys', where: sql`user_id = ${anyUuid(ids)}`},
    {table: 'openmemory_admin.deactivations', where: sql`user_uuid = ${anyUuid(ids)}`},
    {table: 'users', where: sql`id = ${anyUuid(ids)}`},
  )
  return plan
}

export interface DeleteSetResult {
  users: {id: string; userId: string}[]
  rows: Record<string, number>
  otherOwners: OtherOwnerRows[]
}

/** Memories of users outside the set that sit in apps of users in the set, per (app owner, owner). */
async function otherOwnersOf(db: Db, ids: string[]): Promise<OtherOwnerRows[]> {
  const owners = await rows<{app_owner: string; owner: string; n: number}>(
    db,
    sql`select ao.user_id as app_owner, mo.user_id as owner, count(*)::int as n
      from memories m
      join apps a on a.id = m.app_id
      join users ao on ao.id = a.owner_id
      join users mo on mo.id = m.user_id
      where a.owner_id in ${ids} and m.user_id not in ${ids}
      group by ao.user_id, mo.user_id
      order by ao.user_id, mo.user_id`,
  )
  return owners.map((r) => ({appOwner: r.app_owner, userId: r.owner, memoryCount: Number(r.n)}))
}

/** The audit rows for other users' memories deleted with a user: one per affected owner. */
export function otherOwnersAudit(
  others: OtherOwnerRows[],
  details: Record<string, unknown> = {},
): AuditEntry[] {
  return others.map((o) => ({
    targetUserId: o.userId,
    outcome: 'changed',
    details: {
      action: 'delete-collateral',
      deletedUser: o.appOwner,
      memoriesDeleted: o.memoryCount,
      why: `memories in an app of ${o.appOwner}, deleted with it`,
      ...details,
    },
  }))
}

/**
 * Delete (or, in a dry run, count) a set of users and everything that
 * references them, in the caller's transaction. Users are locked first and,
 * with `inactiveBefore`, kept when they became active meanwhile.
 */
export async function deleteUsersIn(tx: Db, uuids: string[], opts: SetOptions): Promise<DeleteSetResult> {
  const targets = await lockQualifying(tx, uuids, opts)
  const counted: Record<string, number> = {}
  const ids = targets.map((t) => t.id)
  let otherOwners: OtherOwnerRows[] = []
  if (ids.length > 0) {
    // Counted before the deletion, in the same transaction (the users are locked).
    otherOwners = await otherOwnersOf(tx, ids)
    for (const step of await deletionPlan(tx, ids)) {
      const table = sql.raw(step.table)
      const query = opts.dryRun
        ? sql`select count(*)::int as n from ${table} where ${step.where}`
        : sql`with d as (delete from ${table} where ${step.where} returning 1) select count(*)::int as n from d`
      const [r] = await rows<{n: number}>(tx, query)
      counted[step.table] = Number(r?.n ?? 0)
    }
  }
  return {users: targets.map((t) => ({id: t.id, userId: t.user_id})), rows: counted, otherOwners}
}

export function deletionAudit(userId: string, details: Record<string, unknown>): AuditEntry {
  return {targetUserId: userId, outcome: 'deleted', details: {action: 'delete', ...details}}
}

export async function deleteUser(
  db: Db,
  userId: string,
  opts: {dryRun?: boolean},
  ctx: ServiceContext,
): Promise<DeleteResult> {
  if (opts.dryRun) {
    const user = await getUser(db, userId)
    const r = await deleteUsersIn(db, [user.id], opts)
    return {
      userId,
      dryRun: true,
      rowsByTable: r.rows,
      rowCount: Object.values(r.rows).reduce((a, b) => a + b, 0),
      otherOwners: r.otherOwners,
    }
  }
  return db.transaction(async (tx) => {
    const user = await lockUser(tx, userId)
    const r = await deleteUsersIn(tx, [user.id], opts)
    const total = Object.values(r.rows).reduce((a, b) => a + b, 0)
    const otherMemories = r.otherOwners.map((o) => ({userId: o.userId, memories: o.memoryCount}))
    await recordAudit(tx, ctx, [
      deletionAudit(userId, {
        rows: r.rows,
        ...(otherMemories.length > 0 ? {otherOwners: otherMemories} : {}),
      }),
      ...otherOwnersAudit(r.otherOwners),
    ])
    return {userId, dryRun: false, rowsByTable: r.rows, rowCount: total, otherOwners: r.otherOwners}
  })
}
