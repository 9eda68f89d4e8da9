/**
 * Users: create (user + hashed key + default app, one transaction) and list
 * (one query whatever the number of users).
 */
import {and, asc, desc, eq, type SQL, sql} from 'drizzle-orm'
import {advisoryKey, type Database, type Db} from '../db/client.js'
import {apiKeys, apps, auditLog, memories, users} from '../db/schema.js'
import {isDeactivated, lastSeen, lastSeenBefore, rows} from '../db/sql.js'
import {fetchSize, utcIso} from '../db/stream.js'
import {ConflictError} from '../errors.js'
import {recordAudit} from './audit.js'
import type {ServiceContext} from './context.js'
import {checkKeyLength, fingerprint, hashKey, KEY_LENGTH} from './keys.js'
import {userNotFound} from './user-lookup.js'
import {parseAppName, parseName, parseUserId, titleCase} from './validation.js'

export const DEFAULT_APP = 'default'

export interface CreateUserInput {
  userId: string
  name?: string
  email?: string
  keyLength?: number
  appName?: string
  /** Create even if this tool deleted a user with this id before (the vector store may still hold its memories). */
  reuseDeletedId?: boolean
}

export interface UsersCreateResult {
  id: string
  userId: string
  name: string
  email: string | null
  apiKey: string
  keyFingerprint: string
  app: {id: string; name: string}
  createdAt: string
  /** When the id belonged to a user this tool deleted (created anyway with --reuse-deleted-id): that deletion's time. */
  reusedDeletedId: string | null
}

/** Validate everything before touching the database; throws ValidationError (exit 2). */
export async function validateCreateUser(input: CreateUserInput) {
  const userId = parseUserId(input.userId)
  const name = input.name === undefined ? titleCase(userId) : parseName(input.name)
  const email = input.email === undefined ? null : (await import('./email.js')).parseEmail(input.email)
  const keyLength = checkKeyLength(input.keyLength ?? KEY_LENGTH.default)
  const appName = parseAppName(input.appName ?? DEFAULT_APP)
  return {userId, name, email, keyLength, appName}
}

/**
 * Serialise writers that must see each other's rows (email uniqueness has no
 * index in the multi-user schema). Transaction-scoped: released at commit.
 */
export async function lockUsers(tx: Db): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${advisoryKey('users')})`)
}

export async function assertUserAvailable(tx: Db, userId: string, email: string | null): Promise<void> {
  const [taken] = await tx.select({id: users.id}).from(users).where(eq(users.userId, userId)).limit(1)
  if (taken) {
    throw new ConflictError(
      `User '${userId}' already exists. Choose another userId, or see 'openmemory users show ${userId}'.`,
    )
  }
  if (email) {
    const [sameEmail] = await tx
      .select({userId: users.userId})
      .from(users)
      .where(sql`lower(${users.email}) = lower(${email})`)
      .limit(1)
    if (sameEmail) {
      throw new ConflictError(`Email ${email} is already used by user '${sameEmail.userId}'.`)
    }
  }
}

export async function createUser(
  db: Db,
  input: CreateUserInput,
  ctx: ServiceContext,
  hooks: {
    /** Called inside the transaction, last, with the new key: a throw rolls the creation back. */
    beforeCommit?: (apiKey: string) => void | Promise<void>
  } = {},
): Promise<UsersCreateResult> {
  const v = await validateCreateUser(input)
  const apiKey = ctx.newKey(v.keyLength)
  const keyHash = hashKey(apiKey)
  const now = ctx.now()
  const ids = {user: ctx.uuid(), key: ctx.uuid(), app: ctx.uuid()}
  let reused: string | null = null

  await db.transaction(async (tx) => {
    await lockUsers(tx)
    await assertUserAvailable(tx, v.userId, v.email)
    reused = await deletedEarlier(tx, v.userId)
    if (reused && !input.reuseDeletedId) throw deletedIdConflict(v.userId, reused)
    await tx.insert(users).values({
      id: ids.user,
      userId: v.userId,
      name: v.name,
      email: v.email,
      createdAt: now,
      updatedAt: now,
      lastActive: now,
    })
    await tx.insert(apiKeys).values({
      id: ids.key,
      userId: ids.user,
      keyHash,
      createdAt: now,
      lastUsed: null,
      isActive: true,
    })
    await tx.insert(apps).values({
      id: ids.app,
      ownerId: ids.user,
      name: v.appName,
      isActive: true,
      createdAt: now,
      updatedAt: now,
    })
    await recordAudit(tx, ctx, [
      {
        targetUserId: v.userId,
        outcome: 'created',
        details: {name: v.name, email: v.email, app: v.appName, keyFingerprint: fingerprint(keyHash)},
      },
    ])
    await hooks.beforeCommit?.(apiKey)
  })

  return {
    id: ids.user,
    userId: v.userId,
    name: v.name,
    email: v.email,
    apiKey,
    keyFingerprint: fingerprint(keyHash),
    app: {id: ids.app, name: v.appName},
    createdAt: now.toISOString(),
    reusedDeletedId: reused,
  }
}

/** When this tool last deleted a user with this id (its audit trail), or null. */
export async function deletedEarlier(db: Db, userId: string): Promise<string | null> {
  const [row] = await db
    .select({at: auditLog.at})
    .from(auditLog)
    .where(and(eq(auditLog.targetUserId, userId), eq(auditLog.outcome, 'deleted')))
    .orderBy(desc(auditLog.at))
    .limit(1)
  return row ? row.at.toISOString() : null
}

/**
 * The server's vector store (mem0 on Qdrant) keys memories by the userId
 * string and this tool cannot reach it: a new user with a deleted user's id
 * would find the old user's memories through search.
 */
function deletedIdConflict(userId: string, at: string | null): ConflictError {
  return new ConflictError(
    `userId '${userId}' belonged to a user this tool deleted (${at}); the server's vector store keys memories by userId, so a new '${userId}' would find the old user's memories through search. Delete that user's vector-store points first (Qdrant: delete points by filter on payload user_id = '${userId}'), then pass --reuse-deleted-id; or choose another userId.`,
    [`openmemory audit list --user ${userId}`],
  )
}

// ---------------------------------------------------------------------------

export type KeyStatus = 'active' | 'revoked' | 'none'
export type UserSort = 'created' | 'last-active' | 'user-id' | 'memories'
export const USER_SORTS: UserSort[] = ['user-id', 'created', 'last-active', 'memories']

export interface UserListItem {
  id: string
  userId: string
  name: string | null
  email: string | null
  keyStatus: KeyStatus
  deactivated: boolean
  activeMemories: number
  apps: string[]
  createdAt: string | null
  lastActive: string | null
}

export interface ListUsersInput {
  sort?: UserSort
  limit?: number
  /** Only users whose last activity (or creation, if never active) is older than this many days. */
  inactiveDays?: number
}

export function inactiveCutoff(now: Date, days: number): Date {
  return new Date(now.getTime() - days * 86_400_000)
}

/** The filter of a user listing: one place for the listing, its count and its page. */
function usersFilter(input: ListUsersInput, now: Date): SQL {
  if (input.inactiveDays === undefined) return sql`true`
  const cutoff = inactiveCutoff(now, input.inactiveDays)
  return lastSeenBefore(cutoff)
}

/**
 * The listing as one set-based statement: key, deactivation and per-user
 * aggregates (active memories through idx_memory_user_state, app names
 * through ix_apps_owner_id) joined to users, ordered by a unique key.
 * Timestamps are selected as text (see utcIso).
 */
export function usersListSql(input: ListUsersInput, now: Date): SQL {
  const activeCount = sql`coalesce(mc.active, 0)`
  const order = {
    'user-id': sql`${users.userId}`,
    created: sql`${users.createdAt} desc nulls last, ${users.userId}`,
    'last-active': sql`${lastSeen()} desc nulls last, ${users.userId}`,
    memories: sql`${activeCount} desc, ${users.userId}`,
  }[input.sort ?? 'user-id']
  const limit = input.limit === undefined ? sql`` : sql` limit ${input.limit}`
  return sql`select ${users.id}::text as id, ${users.userId} as user_id, ${users.name} as name,
      ${users.email} as email, ${apiKeys.id} is not null as has_key,
      coalesce(${apiKeys.isActive}, false) as key_active,
      ${isDeactivated()} as deactivated,
      ${activeCount}::int as active_memories, an.names as apps,
      ${users.createdAt}::text as created_at, ${users.lastActive}::text as last_active
    from ${users}
    left join ${apiKeys} on ${apiKeys.userId} = ${users.id}
    left join (select ${memories.userId} as user_uuid, count(*) as active from ${memories}
               where ${memories.state} = 'active' group by ${memories.userId}) mc on mc.user_uuid = ${users.id}
    left join (select ${apps.ownerId} as owner_id, array_agg(${apps.name}::text order by ${apps.name}) as names
               from ${apps} group by ${apps.ownerId}) an on an.owner_id = ${users.id}
    where ${usersFilter(input, now)}
    order by ${order}${limit}`
}

interface UserListRow {
  id: string
  user_id: string
  name: string | null
  email: string | null
  has_key: boolean
  key_active: boolean
  deactivated: boolean
  active_memories: number
  apps: string[] | null
  created_at: string | null
  last_active: string | null
}

function userListItem(r: UserListRow): UserListItem {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    email: r.email,
    keyStatus: r.has_key ? (r.key_active ? 'active' : 'revoked') : 'none',
    deactivated: Boolean(r.deactivated),
    activeMemories: Number(r.active_memories),
    apps: r.apps ?? [],
    createdAt: utcIso(r.created_at),
    lastActive: utcIso(r.last_active),
  }
}

/** The whole listing in memory (the interactive menu, tests); commands stream it. */
export async function listUsers(
  db: Db,
  input: ListUsersInput,
  ctx: Pick<ServiceContext, 'now'>,
): Promise<UserListItem[]> {
  return (await rows<UserListRow>(db, usersListSql(input, ctx.now()))).map(userListItem)
}

/** The listing in chunks as the database produces them; leaving the loop cancels the query. */
export async function* streamUsers(
  database: Pick<Database, 'cursor'>,
  input: ListUsersInput,
  ctx: Pick<ServiceContext, 'now'>,
  chunkSize = fetchSize(),
): AsyncGenerator<UserListItem[]> {
  for await (const chunk of database.cursor<UserListRow>(usersListSql(input, ctx.now()), chunkSize)) {
    yield chunk.map(userListItem)
  }
}

/** How many users the listing has without --limit (for a terminal's "N more"). */
export async function countUsers(db: Db, input: ListUsersInput, ctx: Pick<ServiceContext, 'now'>) {
  const [row] = await rows<{n: number}>(
    db,
    sql`select count(*)::int as n from ${users} where ${usersFilter(input, ctx.now())}`,
  )
  return Number(row?.n ?? 0)
}

/** The user row for a userId, or UserNotFoundError (exit 3). */
export async function getUser(db: Db, userId: string) {
  const [user] = await db.select().from(users).where(eq(users.userId, userId)).limit(1)
  if (!user) throw await userNotFound(db, userId)
  return user
}

// ---------------------------------------------------------------------------

export interface UserMatch {
  userId: string
  name: string | null
  email: string | null
  deactivated: boolean
}

/** `%`, `_` and `\` match literally in a LIKE pattern once escaped. */
function likeEscape(term: string): string {
  return term.replace(/[\\%_]/g, (c) => `\\${c}`)
}

/**
 * Users whose userId starts with the term, or whose name or email contains it
 * (case-insensitive), prefix matches first: for a picker that queries as the
 * operator types. At most `limit` rows, whatever the number of users.
 */
export async function searchUsers(db: Db, term: string, limit = 20): Promise<UserMatch[]> {
  const t = term.trim()
  const prefix = `${likeEscape(t.toLowerCase())}%`
  const anywhere = `%${likeEscape(t)}%`
  const where =
    t === ''
      ? undefined
      : sql`(${users.userId} like ${prefix} or ${users.name} ilike ${anywhere} or ${users.email} ilike ${anywhere})`
  const found = await db
    .select({
      userId: users.userId,
      name: users.name,
      email: users.email,
      deactivated: sql<boolean>`${isDeactivated()}`,
    })
    .from(users)
    .where(where)
    .orderBy(
      ...(t === '' ? [] : [sql`case when ${users.userId} like ${prefix} then 0 else 1 end`]),
      asc(users.userId),
    )
    .limit(Math.max(1, Math.min(limit, 1000)))
  return found.map((r) => ({...r, deactivated: Boolean(r.deactivated)}))
}
