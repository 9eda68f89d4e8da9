/**
 * Real databases for tests: a fresh PostgreSQL database on the local server,
 * or a fresh embedded data directory (the CLI's own embedded PostgreSQL),
 * opened through the same openDatabase the CLI uses. Optionally loaded from
 * one of the shared schema fixtures first.
 */
import {cpSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {sql} from 'drizzle-orm'
import postgres from 'postgres'
import {type Database, type DatabaseTarget, openDatabase} from '../../src/db/client.js'
import {startEmbedded} from '../../src/db/embedded.js'
import {rows} from '../../src/db/sql.js'

export const ADMIN_URL = process.env.OPENMEMORY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
export const FIXTURES = path.resolve(import.meta.dirname, '../fixtures')

export type Fixture = 'multiuser' | 'upstream'
export type DriverName = 'postgres' | 'embedded'
export const DRIVERS: DriverName[] = ['postgres', 'embedded']

/**
 * A database name carrying this test run's tag, so the run's teardown finds
 * and drops it even when the test that made it failed (global-setup.ts).
 */
export function testDbName(prefix: string): string {
  const run = process.env.OPENMEMORY_TEST_RUN ?? 'adhoc'
  return `${prefix}_${run}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
}

export function fixtureSql(fixture: Fixture): string {
  return readFileSync(path.join(FIXTURES, `openmemory-${fixture}-schema.sql`), 'utf8')
}

export interface TestDatabase {
  driver: DriverName
  target: DatabaseTarget
  /** For postgres: the URL; for embedded: the data dir (use with OPENMEMORY_DATA_DIR). */
  url?: string
  dataDir?: string
  /** Open through the CLI's own code (migrating the embedded database as the CLI does). */
  open(opts?: {migrate?: boolean; onQuery?: (q: string) => void}): Promise<Database>
  drop(): Promise<void>
}

function urlFor(name: string): string {
  const u = new URL(ADMIN_URL)
  u.pathname = `/${name}`
  return u.toString()
}

/**
 * The run's template of a migrated database (global-setup.ts makes one per
 * driver and fixture): a PostgreSQL database to copy with CREATE DATABASE
 * ... TEMPLATE, or an embedded data directory to copy (its server stopped). Set up once per run, as
 * the CLI's own `db migrate` would; every test file copies its own.
 */
export const MIGRATED_TEMPLATES: (Fixture | undefined)[] = [undefined, 'multiuser', 'upstream']

function pgTemplateName(fixture: Fixture | undefined, run = process.env.OPENMEMORY_TEST_RUN): string {
  return `om_tpl_${run}_${fixture ?? 'empty'}_migrated`
}

function embeddedTemplateDir(fixture: Fixture | undefined, root = process.env.OPENMEMORY_TEST_TEMPLATES) {
  return root ? path.join(root, `embedded-${fixture ?? 'empty'}-migrated`) : undefined
}

/** Build the migrated templates of every fixture on both drivers (global-setup.ts, once per run). */
export async function buildMigratedTemplates(root: string, run: string): Promise<void> {
  const pg = async (fixture: Fixture | undefined) => {
    const name = pgTemplateName(fixture, run)
    const admin = postgres(ADMIN_URL, {max: 1, onnotice: () => {}})
    try {
      await admin.unsafe(`create database ${name}`)
    } finally {
      await admin.end()
    }
    const url = urlFor(name)
    if (fixture) {
      const client = postgres(url, {max: 1, onnotice: () => {}})
      try {
        await client.unsafe(fixtureSql(fixture))
      } finally {
        await client.end()
      }
    }
    const database = await openDatabase(
      {kind: 'postgres', url, source: '--database-url', display: url},
      {migrate: true},
    )
    await database.close()
  }
  const embedded = async (fixture: Fixture | undefined) => {
    const dataDir = embeddedTemplateDir(fixture, root) as string
    copyEmbeddedTemplate(dataDir)
    if (fixture) await loadEmbeddedFixture(dataDir, fixture)
    const database = await openDatabase(
      {kind: 'embedded', dataDir, source: 'OPENMEMORY_DATA_DIR', display: dataDir},
      {migrate: true},
    )
    await database.close()
  }
  await Promise.all([...MIGRATED_TEMPLATES.map(pg), ...MIGRATED_TEMPLATES.map(embedded)])
}

/**
 * An initialised embedded data directory at `dataDir`, copied from the run's
 * template (global-setup.ts): what the CLI's first run would make, without
 * initdb. `migrated`: also migrated, as after that first run's command. Tests
 * about the first run itself create the directory for real.
 */
export function copyEmbeddedTemplate(dataDir: string, opts: {migrated?: boolean} = {}): string {
  const template = opts.migrated
    ? embeddedTemplateDir(undefined)
    : process.env.OPENMEMORY_TEST_EMBEDDED_TEMPLATE
  if (!template) throw new Error('no embedded template: run under vitest (test/helpers/global-setup.ts)')
  cpSync(template, dataDir, {recursive: true})
  return dataDir
}

/** Run SQL text (several statements) on an embedded data directory, through its own server. */
export async function embeddedSql(dataDir: string, text: string): Promise<void> {
  const server = await startEmbedded(dataDir, {lockWaitMs: 10_000})
  const client = postgres({
    path: server.socketPath,
    user: 'openmemory',
    database: 'postgres',
    max: 1,
    onnotice: () => {},
  })
  try {
    await client.unsafe(text).simple()
  } finally {
    await client.end()
    await server.stop()
  }
}

async function loadEmbeddedFixture(dataDir: string, fixture: Fixture): Promise<void> {
  await embeddedSql(dataDir, fixtureSql(fixture))
}

/**
 * A database of its own for a test file, on either driver: empty, or loaded
 * from a fixture (not migrated). `migrated`: copied from the run's migrated
 * template instead, the usual start of a file's tests (one per file and
 * driver; `resetTables` between tests).
 */
export async function createTestDatabase(
  driver: DriverName,
  fixture?: Fixture,
  opts: {migrated?: boolean} = {},
): Promise<TestDatabase> {
  const fromTemplate = opts.migrated === true && process.env.OPENMEMORY_TEST_TEMPLATES !== undefined
  const td = await createDatabase(driver, fixture, fromTemplate)
  if (opts.migrated && !fromTemplate) await (await td.open({migrate: true})).close()
  return td
}

async function createDatabase(driver: DriverName, fixture: Fixture | undefined, fromTemplate: boolean) {
  if (driver === 'postgres') {
    const name = testDbName('om_test')
    const dropDatabase = async () => {
      const a = postgres(ADMIN_URL, {max: 1, onnotice: () => {}})
      try {
        await a.unsafe(`drop database if exists ${name} with (force)`)
      } finally {
        await a.end()
      }
    }
    const admin = postgres(ADMIN_URL, {max: 1, onnotice: () => {}})
    try {
      await admin.unsafe(
        `create database ${name}${fromTemplate ? ` template ${pgTemplateName(fixture)}` : ''}`,
      )
    } finally {
      await admin.end()
    }
    const url = urlFor(name)
    if (fixture && !fromTemplate) {
      const client = postgres(url, {max: 1, onnotice: () => {}})
      try {
        await client.unsafe(fixtureSql(fixture))
      } catch (error) {
        await client.end()
        await dropDatabase()
        throw error
      }
      await client.end()
    }
    const target: DatabaseTarget = {kind: 'postgres', url, source: '--database-url', display: url}
    return {
      driver,
      target,
      url,
      open: (opts) => openDatabase(target, {migrate: opts?.migrate ?? false, onQuery: opts?.onQuery}),
      drop: dropDatabase,
    } satisfies TestDatabase
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'om-test-'))
  const dataDir = path.join(dir, 'pgdata')
  try {
    if (fromTemplate) cpSync(embeddedTemplateDir(fixture) as string, dataDir, {recursive: true})
    else {
      if (process.env.OPENMEMORY_TEST_EMBEDDED_TEMPLATE) copyEmbeddedTemplate(dataDir)
      if (fixture) await loadEmbeddedFixture(dataDir, fixture)
    }
  } catch (error) {
    rmSync(dir, {recursive: true, force: true})
    throw error
  }
  const target: DatabaseTarget = {kind: 'embedded', dataDir, source: 'OPENMEMORY_DATA_DIR', display: dataDir}
  return {
    driver,
    target,
    dataDir,
    open: (opts) =>
      openDatabase(target, {lockWaitMs: 10_000, migrate: opts?.migrate ?? true, onQuery: opts?.onQuery}),
    async drop() {
      rmSync(dir, {recursive: true, force: true})
    },
  } satisfies TestDatabase
}

/**
 * Hold a run lock as another run of the tool would: its lease row
 * (openmemory_admin.run_locks), owned by a live session of its own.
 */
export async function holdRunLock(url: string, name: string): Promise<{release(): Promise<void>}> {
  const holder = postgres(url, {max: 1, onnotice: () => {}})
  const taken = await holder`
    insert into openmemory_admin.run_locks (name, owner, expires_at, backend_pid, backend_start)
    select ${name}, 'test-holder', now() + interval '5 minutes', pg_backend_pid(),
           (select backend_start from pg_stat_activity where pid = pg_backend_pid())
    on conflict (name) do nothing returning owner`
  if (taken.length !== 1) {
    await holder.end()
    throw new Error(`run lock ${name} is already held`)
  }
  return {
    async release() {
      await holder`delete from openmemory_admin.run_locks where name = ${name} and owner = 'test-holder'`
      await holder.end()
    },
  }
}

const RESET_TABLES = [
  'openmemory_admin.run_locks',
  'openmemory_admin.audit_log',
  'openmemory_admin.deactivations',
  'memory_categories',
  'memories',
  'apps',
  'api_keys',
  'categories',
  'configs',
  'users',
]

/** Empty every table (between tests). */
export async function resetTables(database: Database): Promise<void> {
  await database.db.execute(sql.raw(`truncate ${RESET_TABLES.join(', ')} cascade`))
}

/** A catalog snapshot of a schema: tables, columns, enums, indexes and constraints, sorted. */
export async function catalogSnapshot(
  database: Database,
  schema = 'public',
): Promise<Record<string, string[]>> {
  const q = async (query: ReturnType<typeof sql>) =>
    (await rows<{v: string}>(database.db, query)).map((r) => r.v).sort()
  return {
    columns: await q(sql`
      select c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
             || case when a.attnotnull then ' not null' else '' end
             || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') as v
      from pg_attribute a join pg_class c on c.oid = a.attrelid
      join pg_namespace n on n.oid = c.relnamespace
      left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where n.nspname = ${schema} and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped`),
    indexes: await q(sql`select indexdef as v from pg_indexes where schemaname = ${schema}`),
    constraints: await q(sql`
      select c.relname || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid) as v
      from pg_constraint con join pg_class c on c.oid = con.conrelid
      join pg_namespace n on n.oid = c.relnamespace where n.nspname = ${schema}`),
    enums: await q(sql`
      select t.typname || ':' || string_agg(e.enumlabel, ',' order by e.enumsortorder) as v
      from pg_type t join pg_enum e on e.enumtypid = t.oid
      join pg_namespace n on n.oid = t.typnamespace where n.nspname = ${schema} group by t.typname`),
  }
}

/** A migrated database that a command reaches through `env` and `argDb`. */
export interface CommandDatabase {
  td: TestDatabase
  /** The environment of a command run against it (the other database variables unset). */
  env: Record<string, string | undefined>
  /** `--database-url` on PostgreSQL; nothing on the embedded database (OPENMEMORY_DATA_DIR is in env). */
  argDb: string[]
}

/** A migrated database of `driver`, seeded by `seed`, for running commands against. */
export async function commandDatabase(
  driver: DriverName,
  seed: (database: Database) => Promise<void>,
): Promise<CommandDatabase> {
  const td = await createTestDatabase(driver, undefined, {migrated: true})
  const d = await td.open({migrate: true})
  try {
    await seed(d)
  } finally {
    await d.close()
  }
  const env: Record<string, string | undefined> = {
    DATABASE_URL: undefined,
    OPENMEMORY_DATABASE_URL: undefined,
  }
  if (driver === 'embedded') env.OPENMEMORY_DATA_DIR = td.dataDir
  return {td, env, argDb: driver === 'postgres' ? ['--database-url', td.url as string] : []}
}
