/**
 * Every table the tool touches.
 *
 * The `public` tables mirror what the OpenMemory multi-user server creates with
 * SQLAlchemy `create_all` (test/fixtures/openmemory-multiuser-schema.sql):
 * same types, nullability, constraint and index names. Ids are uuids with no
 * database default (the writer supplies them) and timestamps are
 * `timestamp without time zone` holding UTC wall-clock time.
 *
 * The tool's own tables live in the `openmemory_admin` schema so they can
 * never collide with anything the server creates.
 */
import {sql} from 'drizzle-orm'
import {
  bigserial,
  boolean,
  foreignKey,
  index,
  integer,
  json,
  jsonb,
  pgEnum,
  pgSchema,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core'
import {naiveTimestamp} from './time.js'

/** The multi-user enum. Upstream databases also have `paused`; queries read states as text. */
export const memoryState = pgEnum('memorystate', ['active', 'archived', 'deleted'])

/** The server's naive timestamp columns (see db/time.ts). */
const ts = (name: string) => naiveTimestamp(name)

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey(),
    userId: varchar('user_id').notNull(),
    name: varchar('name'),
    email: varchar('email'),
    createdAt: ts('created_at'),
    updatedAt: ts('updated_at'),
    lastActive: ts('last_active'),
  },
  (t) => [
    index('ix_users_created_at').on(t.createdAt),
    index('ix_users_email').on(t.email),
    index('ix_users_name').on(t.name),
    uniqueIndex('ix_users_user_id').on(t.userId),
  ],
)

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id').notNull(),
    keyHash: varchar('key_hash').notNull(),
    createdAt: ts('created_at'),
    lastUsed: ts('last_used'),
    isActive: boolean('is_active').notNull(),
  },
  (t) => [
    uniqueIndex('ix_api_keys_key_hash').on(t.keyHash),
    uniqueIndex('ix_api_keys_user_id').on(t.userId),
    foreignKey({name: 'api_keys_user_id_fkey', columns: [t.userId], foreignColumns: [users.id]}),
  ],
)

export const apps = pgTable(
  'apps',
  {
    id: uuid('id').primaryKey(),
    name: varchar('name').notNull(),
    ownerId: uuid('owner_id').notNull(),
    isActive: boolean('is_active').notNull(),
    createdAt: ts('created_at'),
    updatedAt: ts('updated_at'),
  },
  (t) => [
    unique('idx_app_owner_name').on(t.ownerId, t.name),
    index('ix_apps_created_at').on(t.createdAt),
    index('ix_apps_is_active').on(t.isActive),
    index('ix_apps_name').on(t.name),
    index('ix_apps_owner_id').on(t.ownerId),
    foreignKey({name: 'apps_owner_id_fkey', columns: [t.ownerId], foreignColumns: [users.id]}),
  ],
)

export const categories = pgTable(
  'categories',
  {
    id: uuid('id').primaryKey(),
    name: varchar('name').notNull(),
    description: varchar('description'),
    createdAt: ts('created_at'),
  },
  (t) => [index('ix_categories_created_at').on(t.createdAt), uniqueIndex('ix_categories_name').on(t.name)],
)

export const configs = pgTable(
  'configs',
  {
    id: uuid('id').primaryKey(),
    key: varchar('key').notNull(),
    value: json('value').notNull(),
    createdAt: ts('created_at'),
    updatedAt: ts('updated_at'),
  },
  (t) => [uniqueIndex('ix_configs_key').on(t.key)],
)

export const memories = pgTable(
  'memories',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id').notNull(),
    appId: uuid('app_id').notNull(),
    content: varchar('content').notNull(),
    vector: varchar('vector'),
    metadata: json('metadata'),
    state: memoryState('state'),
    createdAt: ts('created_at'),
    updatedAt: ts('updated_at'),
    archivedAt: ts('archived_at'),
    deletedAt: ts('deleted_at'),
  },
  (t) => [
    index('idx_memory_app_state').on(t.appId, t.state),
    index('idx_memory_user_app').on(t.userId, t.appId),
    index('idx_memory_user_state').on(t.userId, t.state),
    index('ix_memories_app_id').on(t.appId),
    index('ix_memories_archived_at').on(t.archivedAt),
    index('ix_memories_created_at').on(t.createdAt),
    index('ix_memories_deleted_at').on(t.deletedAt),
    index('ix_memories_state').on(t.state),
    index('ix_memories_user_id').on(t.userId),
    foreignKey({name: 'memories_app_id_fkey', columns: [t.appId], foreignColumns: [apps.id]}),
    foreignKey({name: 'memories_user_id_fkey', columns: [t.userId], foreignColumns: [users.id]}),
  ],
)

export const memoryCategories = pgTable(
  'memory_categories',
  {
    memoryId: uuid('memory_id').notNull(),
    categoryId: uuid('category_id').notNull(),
    assignedAt: ts('assigned_at'),
  },
  (t) => [
    primaryKey({name: 'memory_categories_pkey', columns: [t.memoryId, t.categoryId]}),
    index('idx_memory_category').on(t.memoryId, t.categoryId),
    index('ix_memory_categories_category_id').on(t.categoryId),
    index('ix_memory_categories_memory_id').on(t.memoryId),
    foreignKey({
      name: 'memory_categories_category_id_fkey',
      columns: [t.categoryId],
      foreignColumns: [categories.id],
    }),
    foreignKey({
      name: 'memory_categories_memory_id_fkey',
      columns: [t.memoryId],
      foreignColumns: [memories.id],
    }),
  ],
)

// ---------------------------------------------------------------------------
// The tool's own tables.

export const admin = pgSchema('openmemory_admin')

/** One row per affected user for every change the tool makes, written in the change's transaction. */
export const auditLog = admin.table(
  'audit_log',
  {
    id: bigserial('id', {mode: 'number'}).primaryKey(),
    at: timestamp('at', {mode: 'date', withTimezone: true}).notNull().default(sql`now()`),
    osUser: text('os_user').notNull(),
    host: text('host').notNull(),
    command: text('command').notNull(),
    targetUserId: text('target_user_id'),
    outcome: text('outcome').notNull(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [index('audit_log_at_idx').on(t.at), index('audit_log_target_idx').on(t.targetUserId, t.at)],
)

/**
 * What `users deactivate` switched off, so that `users reactivate` restores
 * exactly that and nothing the operator had switched off by other means.
 */
export const deactivations = admin.table('deactivations', {
  userUuid: uuid('user_uuid').primaryKey(),
  deactivatedAt: timestamp('deactivated_at', {mode: 'date', withTimezone: true}).notNull(),
  reason: text('reason'),
  keySwitchedOff: boolean('key_switched_off').notNull(),
  appIds: uuid('app_ids').array().notNull(),
})

export type User = typeof users.$inferSelect
export type ApiKey = typeof apiKeys.$inferSelect
export type App = typeof apps.$inferSelect

/**
 * Run locks of bulk jobs (prune, bulk rotation, import): a lease row per job
 * name, with its owner and an expiry the holder keeps extending. It works
 * through connection poolers, where a session-level advisory lock would stay
 * behind on a pooled server connection. `backend_pid`/`backend_start` name the
 * holder's session when it has one of its own (no pooler): a lease whose
 * session has ended is taken over at once instead of at its expiry.
 */
export const runLocks = admin.table('run_locks', {
  name: text('name').primaryKey(),
  owner: text('owner').notNull(),
  expiresAt: timestamp('expires_at', {mode: 'date', withTimezone: true}).notNull(),
  backendPid: integer('backend_pid'),
  backendStart: timestamp('backend_start', {mode: 'date', withTimezone: true}),
})
