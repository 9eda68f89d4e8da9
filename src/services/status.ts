/**
 * `db status`: which schema the target holds, what the tool's migrations
 * would still add, and any incompatibility named precisely.
 */
import {sql} from 'drizzle-orm'
import {getTableConfig, type PgTable} from 'drizzle-orm/pg-core'
import {appliedMigrationTimes, type Database, migrationTags} from '../db/client.js'
import * as schema from '../db/schema.js'
import {memoryStateLabels, rows} from '../db/sql.js'

export type SchemaKind = 'empty' | 'upstream' | 'multi-user' | 'managed' | 'unknown'

export interface Incompatibility {
  table: string
  column?: string
  expected: string
  found: string
}

export interface DbStatusResult {
  target: string
  source: string
  driver: 'postgres' | 'embedded'
  serverVersion: string
  schema: SchemaKind
  memoryStates: string[]
  appliedMigrations: string[]
  pendingMigrations: string[]
  /** Server-owned tables or columns the migrations would add (upstream databases). */
  missing: string[]
  incompatibilities: Incompatibility[]
  /** The server's tables hold what the tool needs (the migrations may still be pending). */
  compatible: boolean
  /** Compatible and nothing pending: every command can run. */
  ready: boolean
  /**
   * Indexes the listings need that the server's schema lacks: suggestions for
   * the server's owner. The tool never adds them (the schema is the server's).
   */
  indexSuggestions: IndexSuggestion[]
}

export interface IndexSuggestion {
  table: string
  columns: string[]
  /** What scans without it. */
  usedBy: string
  create: string
}

/**
 * What the streamed listings join and order on (bench/README.md has their
 * plans): an index whose first column is `columns[0]` serves each.
 */
export const LISTING_INDEXES: Omit<IndexSuggestion, 'create'>[] = [
  {table: 'users', columns: ['user_id'], usedBy: 'users list, keys list, memories count (order by userId)'},
  {table: 'api_keys', columns: ['user_id'], usedBy: 'users list, keys list (key of each user)'},
  {table: 'apps', columns: ['owner_id'], usedBy: 'users list (app names), memories count --by-app'},
  {table: 'memories', columns: ['user_id', 'state'], usedBy: 'users list (active memories), memories count'},
  {table: 'memories', columns: ['app_id'], usedBy: 'memories count --by-app'},
]

/** The listing indexes missing from the tables that exist. */
export async function missingListingIndexes(database: Database): Promise<IndexSuggestion[]> {
  const present = await rows<{table_name: string; column_name: string}>(
    database.db,
    sql`
    select c.relname as table_name, a.attname as column_name
    from pg_index i
    join pg_class c on c.oid = i.indrelid
    join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attnum = i.indkey[0]
    where n.nspname = 'public' and i.indisvalid`,
  )
  const tables = await rows<{table_name: string}>(
    database.db,
    sql`
    select c.relname as table_name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p')`,
  )
  const has = new Set(present.map((p) => `${p.table_name}.${p.column_name}`))
  const exists = new Set(tables.map((t) => t.table_name))
  return LISTING_INDEXES.filter((i) => exists.has(i.table) && !has.has(`${i.table}.${i.columns[0]}`)).map(
    (i) => ({
      ...i,
      create: `CREATE INDEX CONCURRENTLY ON ${i.table} (${i.columns.join(', ')});`,
    }),
  )
}

/** The server-owned tables the tool reads and writes, as the multi-user server defines them. */
export const SERVER_TABLES: PgTable[] = [
  schema.users,
  schema.apiKeys,
  schema.apps,
  schema.categories,
  schema.configs,
  schema.memories,
  schema.memoryCategories,
]

/** What the migrations add to an upstream database; everything else must already be there. */
const ADDED_BY_MIGRATION = new Set(['api_keys', 'users.last_active'])

/** Columns the tool never reads or writes: a difference there is not an incompatibility. */
const NOT_USED = new Set(['memory_categories.assigned_at', 'categories.created_at'])

const TYPE_NAMES: Record<string, string> = {
  uuid: 'uuid',
  varchar: 'character varying',
  timestamp: 'timestamp without time zone',
  boolean: 'boolean',
  json: 'json',
  jsonb: 'jsonb',
  text: 'text',
  memorystate: 'memorystate',
}

function expectedType(sqlType: string): string {
  return TYPE_NAMES[sqlType] ?? sqlType
}

/** Tables the tool inserts rows into: a column it does not know there must be nullable or have a default. */
const INSERTED_INTO = new Set(['users', 'api_keys', 'apps'])

export interface SchemaFindings {
  /** Live columns of the public schema's tables. */
  found: Map<string, Map<string, {type: string; notNull: boolean; hasDefault: boolean}>>
  memoryStates: string[]
  missing: string[]
  incompatibilities: Incompatibility[]
}

const cache = new WeakMap<Database, Promise<SchemaFindings>>()

/**
 * The live schema against what the tool reads and writes, from one catalogue
 * query (cached for the process's database): missing tables and columns,
 * changed types, and NOT NULL columns without a default, which the tool does
 * not fill, in tables it inserts into. Extra nullable columns are fine.
 */
export function schemaFindings(database: Database): Promise<SchemaFindings> {
  let pending = cache.get(database)
  if (!pending) {
    pending = readFindings(database)
    cache.set(database, pending)
  }
  return pending
}

/** Forget the cached findings (after a migration changed the schema). */
export function forgetSchemaFindings(database: Database): void {
  cache.delete(database)
}

async function readFindings(database: Database): Promise<SchemaFindings> {
  // Both at once: postgres.js pipelines them on the one connection (one round trip).
  const [columns, memoryStates] = await Promise.all([
    rows<{
      table_name: string
      column_name: string
      type: string
      not_null: boolean
      has_default: boolean
    }>(
      database.db,
      sql`
    select c.relname as table_name, a.attname as column_name,
           format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null,
           (a.atthasdef or a.attidentity <> '' or a.attgenerated <> '') as has_default
    from pg_attribute a
    join pg_class c on c.oid = a.attrelid
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped`,
    ),
    memoryStateLabels(database.db),
  ])
  const found: SchemaFindings['found'] = new Map()
  for (const c of columns) {
    if (!found.has(c.table_name)) found.set(c.table_name, new Map())
    found
      .get(c.table_name)!
      .set(c.column_name, {type: c.type, notNull: c.not_null, hasDefault: c.has_default})
  }

  const missing: string[] = []
  const incompatibilities: Incompatibility[] = []
  for (const table of SERVER_TABLES) {
    const config = getTableConfig(table)
    const have = found.get(config.name)
    if (!have) {
      if (found.size > 0) {
        if (ADDED_BY_MIGRATION.has(config.name)) missing.push(config.name)
        else incompatibilities.push({table: config.name, expected: 'table', found: 'missing'})
      }
      continue
    }
    for (const column of config.columns) {
      const key = `${config.name}.${column.name}`
      const got = have.get(column.name)
      const want = expectedType(column.getSQLType())
      if (!got) {
        if (ADDED_BY_MIGRATION.has(key)) missing.push(key)
        else if (!NOT_USED.has(key)) {
          incompatibilities.push({table: config.name, column: column.name, expected: want, found: 'missing'})
        }
        continue
      }
      if (got.type !== want) {
        incompatibilities.push({table: config.name, column: column.name, expected: want, found: got.type})
      }
    }
    if (INSERTED_INTO.has(config.name)) {
      const known = new Set(config.columns.map((c) => c.name))
      for (const [name, got] of have) {
        if (!known.has(name) && got.notNull && !got.hasDefault) {
          incompatibilities.push({
            table: config.name,
            column: name,
            expected: 'nullable or with a default (openmemory does not write it)',
            found: `${got.type} NOT NULL without a default`,
          })
        }
      }
    }
  }
  if (found.size > 0 && found.has('memories')) {
    for (const state of ['active', 'archived', 'deleted']) {
      if (!memoryStates.includes(state)) {
        incompatibilities.push({
          table: 'memories',
          column: 'state',
          expected: `memorystate enum with '${state}'`,
          found: memoryStates.length > 0 ? `memorystate (${memoryStates.join(', ')})` : 'no memorystate enum',
        })
      }
    }
  }
  return {found, memoryStates, missing, incompatibilities}
}

/** One line naming an incompatibility: `api_keys.scope: expected …, found …`. */
export function describeIncompatibility(i: Incompatibility): string {
  return `${i.table}${i.column ? `.${i.column}` : ''}: expected ${i.expected}, found ${i.found}`
}

export async function dbStatus(database: Database): Promise<DbStatusResult> {
  const {target} = database
  const [version] = await rows<{server_version: string}>(database.db, sql`show server_version`)
  forgetSchemaFindings(database)
  const {found, memoryStates, missing, incompatibilities} = await schemaFindings(database)

  const applied = await appliedMigrationTimes(database)
  const tags = await migrationTags()
  const appliedMigrations = [...tags].filter(([when]) => applied.has(when)).map(([, tag]) => tag)
  const pendingMigrations = [...tags].filter(([when]) => !applied.has(when)).map(([, tag]) => tag)

  let kind: SchemaKind
  if (found.size === 0 || !found.has('users')) kind = found.size === 0 ? 'empty' : 'unknown'
  else if (applied.size > 0) kind = 'managed'
  else if (found.has('api_keys') && found.get('users')!.has('last_active')) kind = 'multi-user'
  else if (!found.has('api_keys')) kind = 'upstream'
  else kind = 'unknown'

  return {
    target: target.display,
    source: target.source,
    driver: target.kind,
    serverVersion: version?.server_version ?? 'unknown',
    schema: kind,
    memoryStates,
    appliedMigrations,
    pendingMigrations,
    missing,
    incompatibilities,
    compatible: incompatibilities.length === 0,
    ready: incompatibilities.length === 0 && pendingMigrations.length === 0 && missing.length === 0,
    indexSuggestions: await missingListingIndexes(database),
  }
}
