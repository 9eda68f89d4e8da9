/**
 * Users: create (user + hashed key + default app, one transaction) and list
 * (one query whatever the number of users).
 */
import {asc, eq, type SQL, sql} from 'drizzle-orm'
import {chunks} from '../db/arrays.js'
import {advisoryKey, type Database, type Db} from '../db/client.js'
import {transactionWithMarker} from '../db/commit.js'
import {apiKeys, apps, auditLog, memories, users} from '../db/schema.js'
import {isDeactivated, lastSeen, lastSeenBefore, rows} from '../db/sql.js'
import {fetchSize} from '../db/stream.js'
import {naiveAt, naiveIso} from '../db/time.js'
import {ConflictError} from '../errors.js'
import {auditEach} from './audit.js'
import type {ServiceContext} from './context.js'
import {checkKeyLength, fingerprint, hashKey, type IssuedKey, KEY_LENGTH} from './keys.js'
import {resolveUserRefs, userNotFound} from './user-lookup.js'
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

/** `users create`: the one user created, with its one app. */
export type UsersCreateResult = CreatedUser

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

/** A user to create, validated: the one shape `users create`, the menu and `users import` write. */
export interface NewUser {
  userId: string
  name: string
  email: string | null
  /** App names (at least one; `default` unless told otherwise). */
  apps: string[]
  /** The CSV line it came from (`users import`), kept in the audit row. */
  line?: number
  /** Create it deactivated (`users import --include-inactive`): key and apps off, undone by `users reactivate`. */
  inactive?: unknown
}

/**
 * The users one creation makes, in batches, read twice: once to make and
 * stage their keys before the transaction, once inside it to insert them.
 * Both reads give the same users in the same order.
 */
export interface NewUserSource {
  count: number
  batches(): AsyncIterable<NewUser[]>
}

/** A source of users already in memory (`users create`, the menu). */
export function usersFrom(input: NewUser[]): NewUserSource {
  return {
    count: input.length,
    async *batches() {
      yield* chunks(input, CREATE_BATCH)
    },
  }
}

export interface CreatedUser {
  id: string
  userId: string
  name: string
  email: string | null
  apiKey: string
  keyFingerprint: string
  apps: {id: string; name: string}[]
  createdAt: string
  /** When the id belonged to a user this tool deleted (created anyway with --reuse-deleted-id): that deletion's time. */
  reusedIdDeletedAt: string | null
}

export interface CreateHooks {
  /** Called once the number of users is known, and after each batch of statements. */
  onStart?: (total: number) => void
  onProgress?: (done: number) => void
  /**
   * Called with the new keys before the transaction opens (key files staged),
   * one batch per call: a throw changes nothing.
   */
  stage?: (keys: IssuedKey[]) => void | Promise<void>
  /** Called once every batch is staged. */
  staged?: () => Promise<void>
  /** Called inside the transaction with each batch written (before COMMIT). */
  written?: (users: Omit<CreatedUser, 'apiKey'>[]) => void
  /** Called as the transaction's statements end, just before COMMIT is sent. */
  committing?: () => void
}

/** Users per batch of statements (and per progress step). */
export const CREATE_BATCH = 500

export interface CreationConflicts {
  /** userIds of the input that exist already. */
  existing: Set<string>
  /** Lower-cased emails of the input already used, and by whom. */
  emails: Map<string, string>
  /** userIds of the input this tool deleted before, with the last deletion's time. */
  deleted: Map<string, string>
}

/**
 * Which userIds and emails (case-insensitively) of the input the database
 * already has, and which userIds this tool deleted before (the deleted-id
 * guard): two queries whatever the number of users, sent together.
 */
export async function findCreationConflicts(
  db: Db,
  input: Pick<NewUser, 'userId' | 'email'>[],
): Promise<CreationConflicts> {
  const ids = JSON.stringify(input.map((r) => r.userId))
  const emails = JSON.stringify(input.flatMap((r) => (r.email ? [r.email.toLowerCase()] : [])))
  // Both at once: postgres.js pipelines them on the one connection (one round trip).
  const [found, gone] = await Promise.all([
    rows<{user_id: string; email: string | null}>(
      db,
      sql`
      select u.user_id, u.email from ${users} u
      where u.user_id in (select jsonb_array_elements_text(${ids}::jsonb))
         or lower(u.email) in (select jsonb_array_elements_text(${emails}::jsonb))`,
    ),
    rows<{user_id: string; at: string}>(
      db,
      sql`
      select ${auditLog.targetUserId} as user_id,
        to_char(max(${auditLog.at}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at
      from ${auditLog}
      where ${auditLog.outcome} = 'deleted'
        and ${auditLog.targetUserId} in (select jsonb_array_elements_text(${ids}::jsonb))
      group by ${auditLog.targetUserId}`,
    ),
  ])
  const existing = new Set<string>()
  const byEmail = new Map<string, string>()
  for (const f of found) {
    existing.add(f.user_id)
    if (f.email) byEmail.set(f.email.toLowerCase(), f.user_id)
  }
  const deleted = new Map<string, string>()
  for (const g of gone) deleted.set(g.user_id, g.at)
  return {existing, emails: byEmail, deleted}
}

/** The conflict that stops creating this user, or undefined. */
export function creationConflict(
  row: Pick<NewUser, 'userId' | 'email'>,
  conflicts: CreationConflicts,
  reuseDeletedId: boolean,
): ConflictError | undefined {
  if (conflicts.existing.has(row.userId)) {
    return new ConflictError(
      `User '${row.userId}' already exists. Choose another userId, or see 'openmemory users show ${row.userId}'.`,
    )
  }
  const owner = row.email ? conflicts.emails.get(row.email.toLowerCase()) : undefined
  if (owner !== undefined) return new ConflictError(`Email ${row.email} is already used by user '${owner}'.`)
  const deletedAt = conflicts.deleted.get(row.userId)
  if (deletedAt && !reuseDeletedId) return deletedIdConflict(row.userId, deletedAt)
  return undefined
}

/**
 * The one creation path (`users create`, the menu, `users import`): users,
 * their hashed keys, their apps and one audit row each, in one transaction
 * of multi-row inserts. Inside it, under the users lock, every user is
 * checked again (taken userId, used email, the deleted-id guard), so a
 * conflict that appeared since validation rolls everything back. The plain
 * keys exist only in memory and in what `stage` does with them, before the
 * transaction opens: inside it only SQL runs.
 */
export async function createUsers(
  db: Db,
  source: NewUserSource,
  opts: {keyLength?: number; reuseDeletedId?: boolean},
  ctx: ServiceContext,
  hooks: CreateHooks = {},
): Promise<{count: number}> {
  const length = checkKeyLength(opts.keyLength ?? KEY_LENGTH.default)
  const now = ctx.now()
  hooks.onStart?.(source.count)
  // The keys are made and staged batch by batch; only their hashes stay (32 bytes a user).
  const hashes = Buffer.alloc(32 * source.count)
  let staged = 0
  for await (const batch of source.batches()) {
    if (staged + batch.length > source.count)
      throw new Error('createUsers: the source gave more users than counted')
    const keys = batch.map((row, i) => {
      const apiKey = ctx.newKey(length)
      hashes.write(hashKey(apiKey), 32 * (staged + i), 'hex')
      return {userId: row.userId, apiKey}
    })
    await hooks.stage?.(keys)
    staged += batch.length
  }
  if (staged !== source.count) throw new Error('createUsers: the source gave fewer users than counted')
  await hooks.staged?.()
  const hashAt = (i: number) => hashes.toString('hex', 32 * i, 32 * i + 32)
  const marker = {
    keyHashes: () => (source.count > 0 ? [hashAt(0)] : []),
    what: source.count === 1 ? 'the new user' : `the ${source.count} new users`,
    committing: hooks.committing,
  }
  await transactionWithMarker(
    db,
    async (tx) => {
      await lockUsers(tx)
      let done = 0
      for await (const batch of source.batches()) {
        // Under the lock, every user is checked again: a conflict that appeared since validation rolls all back.
        const conflicts = await findCreationConflicts(tx, batch)
        const made = batch.map((row, i) => {
          const conflict = creationConflict(row, conflicts, opts.reuseDeletedId === true)
          if (conflict && row.line !== undefined) {
            throw new ConflictError(
              `Another writer created conflicting users meanwhile (line ${row.line}: ${conflict.message}); nothing was written. Run the import again.`,
            )
          }
          if (conflict) throw conflict
          return {
            row,
            id: ctx.uuid(),
            keyId: ctx.uuid(),
            apps: row.apps.map((name) => ({id: ctx.uuid(), name})),
            keyHash: hashAt(done + i),
            reused: conflicts.deleted.get(row.userId) ?? null,
          }
        })
        await insertUsers(tx, made, now, ctx)
        const inactive = made.filter((m) => m.row.inactive)
        if (inactive.length > 0) {
          const {deactivateUsersIn} = await import('./lifecycle.js')
          await deactivateUsersIn(
            tx,
            inactive.map((m) => m.id),
            {reason: 'imported inactive (users import --include-inactive)'},
            ctx,
          )
        }
        hooks.written?.(
          made.map((m) => ({
            id: m.id,
            userId: m.row.userId,
            name: m.row.name,
            email: m.row.email,
            keyFingerprint: fingerprint(m.keyHash),
            apps: m.apps,
            createdAt: now.toISOString(),
            reusedIdDeletedAt: m.reused,
          })),
        )
        done += batch.length
        hooks.onProgress?.(done)
      }
    },
    marker,
  )
  return {count: source.count}
}

/**
 * One batch of new users with their keys and apps: one statement per
 * INSERT_CHUNK_ROWS users, the rows bound as ONE jsonb parameter that
 * PostgreSQL unpacks (no per-value objects on the client); then their
 * audit rows.
 */
async function insertUsers(
  tx: Db,
  made: {
    row: NewUser
    id: string
    keyId: string
    apps: {id: string; name: string}[]
    keyHash: string
    reused: string | null
  }[],
  now: Date,
  ctx: ServiceContext,
): Promise<void> {
  const at = naiveAt(now)
  for (const part of chunks(made)) {
    const doc = JSON.stringify(
      part.map((m) => ({
        id: m.id,
        user_id: m.row.userId,
        name: m.row.name,
        email: m.row.email,
        key_id: m.keyId,
        key_hash: m.keyHash,
        apps: m.apps,
      })),
    )
    // The foreign keys of api_keys and apps are checked at the end of the statement, users inserted by then.
    await tx.execute(sql`
      with v as (
        select * from jsonb_to_recordset(${doc}::jsonb)
          as v(id uuid, user_id text, name text, email text, key_id uuid, key_hash text, apps jsonb)
      ), new_users as (
        insert into ${users} (id, user_id, name, email, created_at, updated_at, last_active)
        select id, user_id, name, email, ${at}, ${at}, ${at} from v
      ), new_keys as (
        insert into ${apiKeys} (id, user_id, key_hash, created_at, last_used, is_active)
        select key_id, id, key_hash, ${at}, null, true from v
      )
      insert into ${apps} (id, owner_id, name, is_active, created_at, updated_at)
      select (a->>'id')::uuid, v.id, a->>'name', true, ${at}, ${at}
      from v cross join lateral jsonb_array_elements(v.apps) as a`)
  }
  await auditEach(tx, ctx, 'created', made, (m) => [
    m.row.userId,
    {
      name: m.row.name,
      email: m.row.email,
      apps: m.row.apps,
      keyFingerprint: fingerprint(m.keyHash),
      ...(m.row.line === undefined ? {} : {line: m.row.line}),
      ...(m.reused ? {reusedIdDeletedAt: m.reused} : {}),
    },
  ])
}

/** One user (`users create`, the menu): validated, then through the one creation path. */
export async function createUser(
  db: Db,
  input: CreateUserInput,
  ctx: ServiceContext,
  hooks: {
    /** Called with the new key before the transaction opens: a throw changes nothing. */
    stage?: (apiKey: string) => void | Promise<void>
    committing?: () => void
  } = {},
): Promise<UsersCreateResult> {
  const v = await validateCreateUser(input)
  let apiKey = ''
  let created: Omit<CreatedUser, 'apiKey'> | undefined
  await createUsers(
    db,
    usersFrom([{userId: v.userId, name: v.name, email: v.email, apps: [v.appName]}]),
    {keyLength: v.keyLength, reuseDeletedId: input.reuseDeletedId},
    ctx,
    {
      stage: (keys) => {
        apiKey = keys[0].apiKey
        return hooks.stage?.(apiKey)
      },
      written: (made) => {
        created = made[0]
      },
      committing: hooks.committing,
    },
  )
  if (!created) throw new Error('createUser: the user was not written')
  return {...created, apiKey}
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
  activeMemoryCount: number
  appNames: string[]
  createdAt: string | null
  lastActiveAt: string | null
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
      ${naiveIso(users.createdAt)} as created_at, ${naiveIso(users.lastActive)} as last_active
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
    activeMemoryCount: Number(r.active_memories),
    appNames: r.apps ?? [],
    createdAt: r.created_at,
    lastActiveAt: r.last_active,
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
/** The user a reference names: its exact stored userId, else the escaped spelling output shows (resolveUserRefs). */
export async function getUser(db: Db, userId: string) {
  const [user] = await db.select().from(users).where(eq(users.userId, userId)).limit(1)
  if (user) return user
  const [stored] = await resolveUserRefs(db, [userId])
  const [byShown] = await db
    .select()
    .from(users)
    .where(eq(users.userId, stored as string))
    .limit(1)
  if (!byShown) throw await userNotFound(db, userId)
  return byShown
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
