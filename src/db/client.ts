/**
 * Where the database is (pure target resolution, docs/contract.md §3) and how it opens.
 *
 * One driver, postgres.js, for a server's URL and for the embedded database
 * (a PostgreSQL server the command starts in its data directory, reached over
 * a Unix socket: db/embedded.ts). Nothing connects at import time.
 */
import {randomUUID} from 'node:crypto'
import {readFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {type SQL, sql as sqlTag} from 'drizzle-orm'
import type {PgDatabase, PgQueryResultHKT} from 'drizzle-orm/pg-core'
import {BusyError, mapDatabaseError, ValidationError} from '../errors.js'
import {type CopyReader, pooledCopy, postgresCopy} from './copy.js'
import {
  connectTimeoutSeconds,
  DEFAULT_LOCK_TIMEOUT_MS,
  notPostgresError,
  setupTimeoutError,
  sniffingSocket,
} from './probe.js'
import * as schema from './schema.js'
import {rows, tableExists} from './sql.js'
import {pooledCursor, postgresCursor, type RowCursor} from './stream.js'
import {assertDatabaseUrl, maskUrl} from './url.js'

export type Schema = typeof schema
/** A database or a transaction: services accept either. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>

/**
 * Run a query on a database that may have to be opened for it first (the
 * menu closes its database while a prompt waits: src/interactive/lease.ts).
 */
export type WithDb = <T>(fn: (db: Db) => Promise<T>) => Promise<T>

export type TargetSource =
  | '--database-url'
  | 'OPENMEMORY_DATABASE_URL'
  | 'DATABASE_URL'
  | 'OPENMEMORY_DATA_DIR'
  | 'default'

export type DatabaseTarget =
  | {kind: 'postgres'; url: string; source: TargetSource; display: string}
  | {kind: 'embedded'; dataDir: string; source: TargetSource; display: string}

export {maskUrl}

/**
 * The tool's own data directory: `$XDG_DATA_HOME/openmemory`, else
 * `~/.local/share/openmemory` (`%LOCALAPPDATA%\\openmemory` on Windows). The
 * embedded database is `pgdata` inside it unless OPENMEMORY_DATA_DIR names
 * another folder. Worked out here, not taken from oclif, which would read
 * OPENMEMORY_DATA_DIR as its own data folder (blank included).
 */
export function defaultDataDir(env: NodeJS.ProcessEnv, home = os.homedir()): string {
  const xdg = env.XDG_DATA_HOME?.trim()
  const base =
    xdg || (process.platform === 'win32' && env.LOCALAPPDATA?.trim()) || path.join(home, '.local', 'share')
  return path.join(base, 'openmemory')
}

/** Pure: decide the target from a flag and the environment, in the docs/contract.md §3 order. */
export function resolveTarget(opts: {
  flag?: string
  env: NodeJS.ProcessEnv
  defaultDataDir: string
}): DatabaseTarget {
  const candidates: [TargetSource, string | undefined][] = [
    ['--database-url', opts.flag],
    ['OPENMEMORY_DATABASE_URL', opts.env.OPENMEMORY_DATABASE_URL],
    ['DATABASE_URL', opts.env.DATABASE_URL],
  ]
  for (const [source, value] of candidates) {
    if (value === undefined || value.trim() === '') continue
    const url = value.trim()
    if (!/^postgres(ql)?:\/\//i.test(url)) {
      throw new ValidationError(
        `The database URL from ${source} must start with postgres:// or postgresql:// (got ${maskUrl(url).slice(0, 40)}).`,
      )
    }
    assertDatabaseUrl(url, source)
    return {kind: 'postgres', url, source, display: maskUrl(url)}
  }
  const fromEnv = opts.env.OPENMEMORY_DATA_DIR?.trim()
  const dataDir = path.resolve(fromEnv || path.join(opts.defaultDataDir, 'pgdata'))
  return {
    kind: 'embedded',
    dataDir,
    source: fromEnv ? 'OPENMEMORY_DATA_DIR' : 'default',
    display: `embedded database at ${dataDir}`,
  }
}

export interface OpenOptions {
  /** Progress and notices go here (stderr in the CLI). */
  notify?: (message: string) => void
  /**
   * How long to wait for another process that holds the embedded database
   * before giving up with exit 75. 0 fails at once.
   */
  lockWaitMs?: number
  /**
   * Apply pending migrations on open. Default: no for a server (that is
   * `db migrate`'s job), yes for the embedded database, which is the tool's own.
   */
  migrate?: boolean
  /** Called with every statement drizzle sends (tests count queries with it). */
  onQuery?: (query: string) => void
  /** PostgreSQL lock_timeout of the session, in ms (default 10 s): no lock wait is longer. */
  lockTimeoutMs?: number
}

export interface Database {
  readonly db: Db
  readonly target: DatabaseTarget
  /** Behind a connection pooler in transaction mode: no session state (see connect). */
  readonly pooled: boolean
  /** Rows in chunks as the database produces them; use through `streamRows` (db/stream.ts). */
  cursor: RowCursor
  /** `COPY (statement) TO STDOUT` as bytes (db/copy.ts): the machine formats of listings. */
  copy: CopyReader
  /**
   * Take a named run lock (a lease row, see runLease). Returns false, at
   * once, when another run holds it.
   */
  acquireRunLock(name: string): Promise<boolean>
  /** Give back a run lock taken with acquireRunLock (closing the session does too). */
  releaseRunLock(name: string): Promise<void>
  close(): Promise<void>
}

/**
 * Run `fn` holding the named run lock: BusyError (exit 75) at once when
 * another session holds it; released afterwards whatever happens.
 */
/** How long releasing a run lock may take before the run ends anyway (the session's end releases it). */
const RELEASE_WAIT_MS = 5_000

export async function withRunLock<T>(
  database: Database,
  name: string,
  busyMessage: string,
  fn: () => Promise<T>,
): Promise<T> {
  if (!(await database.acquireRunLock(name))) throw new BusyError(busyMessage)
  try {
    return await fn()
  } finally {
    // A failed release (connection gone) is harmless: the lock ends with the session. Bounded:
    // with the server unreachable, the driver would keep trying to reconnect for it.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      database.releaseRunLock(name).catch(() => {}),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, RELEASE_WAIT_MS)
      }),
    ])
    clearTimeout(timer)
  }
}

export const MIGRATIONS_FOLDER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../drizzle')
export const MIGRATIONS_SCHEMA = 'openmemory_admin'
export const MIGRATIONS_TABLE = 'migrations'

/** A stable 64-bit key for advisory locks, computed by PostgreSQL itself. */
export function advisoryKey(name: string): SQL {
  return sqlTag`hashtextextended(${`openmemory:${name}`}, 0)`
}

function queryLogger(opts: OpenOptions) {
  const onQuery = opts.onQuery
  return onQuery ? {logQuery: (query: string) => onQuery(query)} : undefined
}

export async function openDatabase(target: DatabaseTarget, opts: OpenOptions = {}): Promise<Database> {
  try {
    return target.kind === 'postgres' ? await openPostgres(target, opts) : await openEmbedded(target, opts)
  } catch (error) {
    throw mapDatabaseError(error, target.display) ?? error
  }
}

async function openPostgres(
  target: Extract<DatabaseTarget, {kind: 'postgres'}>,
  opts: OpenOptions,
): Promise<Database> {
  const database = await connect(target, target.url, opts)
  if (opts.migrate) await runMigrations(database)
  return database
}

/**
 * One postgres.js connection, the same for a server's URL and for the
 * embedded server's socket; `onClose` runs after the connection has ended.
 *
 * Directly connected, the session's lock_timeout is a startup parameter: every
 * statement's lock wait is bounded. A connection pooler in transaction mode
 * (PgBouncer) refuses such parameters and shares server sessions between
 * clients, so behind one (detected by that refusal, or said up front with
 * OPENMEMORY_POOLER=1) the tool keeps no session state: lock_timeout is SET
 * LOCAL in every transaction (listings stream inside a read-only one), and
 * statements are not prepared under names the pooler cannot keep.
 */
async function connect(
  target: DatabaseTarget,
  where: string | {path: string; user: string; database: string},
  opts: OpenOptions,
  onClose?: () => Promise<void>,
): Promise<Database> {
  const pooled = process.env.OPENMEMORY_POOLER === '1'
  try {
    return await connectOnce(target, where, opts, pooled, onClose)
  } catch (error) {
    // PgBouncer: "unsupported startup parameter: lock_timeout" (08P01) on the first packet.
    const said = [error, (error as {cause?: unknown})?.cause]
      .map((e) => String((e as Error)?.message))
      .join(' ')
    if (pooled || !/unsupported startup parameter/i.test(said)) throw error
    return connectOnce(target, where, opts, true, onClose)
  }
}

async function connectOnce(
  target: DatabaseTarget,
  where: string | {path: string; user: string; database: string},
  opts: OpenOptions,
  pooled: boolean,
  onClose?: () => Promise<void>,
): Promise<Database> {
  const [{default: postgres}, {drizzle}] = await Promise.all([
    import('postgres'),
    import('drizzle-orm/postgres-js'),
  ])
  const connectTimeout = connectTimeoutSeconds()
  const lockTimeoutMs = Math.round(opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS)
  // A peer that is not PostgreSQL is recognised on its first reply (single host: a host list keeps
  // postgres.js's own failover sockets).
  let notPostgres: ((where: string) => void) | undefined
  const sniffer = sniffingSocket((at) => notPostgres?.(at))
  const singleHost =
    typeof where !== 'string' || !/^[^/?#]*@?[^/?#]*,/.test(where.slice(where.indexOf('://') + 3))
  const options = {
    // One connection: the CLI is sequential.
    max: 1,
    connect_timeout: connectTimeout,
    idle_timeout: 0,
    onnotice: () => {},
    ...(singleHost ? {socket: sniffer.socket} : {}),
    ...(pooled
      ? {prepare: false, connection: {application_name: 'openmemory-cli'}}
      : // Every lock wait is bounded: a row or table held by another session ends in 55P03 (exit 75).
        {connection: {application_name: 'openmemory-cli', lock_timeout: lockTimeoutMs}}),
  }
  const fromUrl = typeof where === 'string' ? urlConnection(where) : undefined
  const client = fromUrl
    ? postgres(fromUrl.url, {...options, ...fromUrl.options})
    : postgres({...(where as object), ...options})
  const db = drizzle({client, schema, logger: queryLogger(opts)}) as unknown as Db
  const setLockTimeout = sqlTag.raw(`set local lock_timeout = ${lockTimeoutMs}`)
  if (pooled) {
    const begin = db.transaction.bind(db)
    ;(db as {transaction: Db['transaction']}).transaction = ((fn, config) =>
      begin(async (tx) => {
        await tx.execute(setLockTimeout)
        return fn(tx as never)
      }, config)) as Db['transaction']
  }
  const lease = runLease(db, pooled)
  const database: Database = {
    db,
    target,
    pooled,
    cursor: pooled
      ? pooledCursor(client, db, `set local lock_timeout = ${lockTimeoutMs}`)
      : postgresCursor(client, db),
    copy: pooled
      ? pooledCopy(client, db, `set local lock_timeout = ${lockTimeoutMs}`)
      : postgresCopy(client, db),
    acquireRunLock: lease.acquire,
    releaseRunLock: lease.release,
    async close() {
      lease.stop()
      try {
        // Queries still pending here belong to a run that failed: do not wait for them (the server
        // rolls back what they had open when the connection ends).
        await client.end({timeout: 1})
      } finally {
        await onClose?.()
      }
    },
  }
  // The whole set-up, retries included, ends within the connect timeout.
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      db.execute(sqlTag`select 1`),
      new Promise<never>((_, reject) => {
        notPostgres = (where) => reject(notPostgresError(where, target.display))
        timer = setTimeout(
          () => reject(setupTimeoutError(connectTimeout, target.display)),
          connectTimeout * 1000 + 500,
        )
      }),
    ])
  } catch (error) {
    await client.end({timeout: 0}).catch(() => {})
    await onClose?.()
    throw error
  } finally {
    clearTimeout(timer)
    notPostgres = undefined
  }
  return database
}

async function openEmbedded(
  target: Extract<DatabaseTarget, {kind: 'embedded'}>,
  opts: OpenOptions,
): Promise<Database> {
  const {startEmbedded, EMBEDDED_DATABASE, EMBEDDED_USER} = await import('./embedded.js')
  const server = await startEmbedded(target.dataDir, {
    lockWaitMs: opts.lockWaitMs ?? 15_000,
    notify: opts.notify,
  })
  let database: Database
  try {
    database = await connect(
      target,
      {path: server.socketPath, user: EMBEDDED_USER, database: EMBEDDED_DATABASE},
      opts,
      server.stop,
    )
  } catch (error) {
    await server.stop()
    throw error
  }
  // The embedded database is the tool's own: keep it migrated.
  try {
    if (opts.migrate !== false) await runMigrations(database)
  } catch (error) {
    await database.close().catch(() => {})
    throw error
  }
  return database
}

/**
 * What libpq reads from a URL that postgres.js would not: `?password=` (which
 * postgres.js would send to the server as a startup parameter) and a service
 * (`?service=NAME` or PGSERVICE) from the service file (PGSERVICEFILE, else
 * ~/.pg_service.conf, else PGSYSCONFDIR/pg_service.conf). Both leave the URL
 * and become driver options; what the URL itself says wins, as in libpq.
 */
function urlConnection(url: string): {url: string; options: Record<string, string | number>} {
  const q = url.indexOf('?')
  const params = new URLSearchParams(q < 0 ? '' : url.slice(q + 1).split('#')[0])
  const password = params.get('password')
  const service = params.get('service') ?? process.env.PGSERVICE
  params.delete('password')
  params.delete('service')
  const rest = params.toString()
  const stripped = q < 0 ? url : `${url.slice(0, q)}${rest ? `?${rest}` : ''}`
  const options: Record<string, string | number> = {}
  // scheme://[user[:password]@]host[:port][/database]: what the URL itself says.
  const afterScheme = stripped.slice(stripped.indexOf('://') + 3)
  const authority = afterScheme.split(/[/?#]/)[0] ?? ''
  const at = authority.lastIndexOf('@')
  const userInfo = at < 0 ? '' : authority.slice(0, at)
  const hostPort = authority.slice(at + 1)
  const database = afterScheme.slice(authority.length).split(/[?#]/)[0]?.slice(1) ?? ''
  const hasPassword = userInfo.includes(':')
  if (password !== null && !hasPassword) options.password = password
  if (service) {
    const entry = serviceEntry(service)
    if (hostPort.replace(/:\d*$/, '') === '' && entry.host) options.host = entry.host
    if (!/:\d+$/.test(hostPort) && entry.port) options.port = Number(entry.port)
    if (database === '' && entry.dbname) options.database = entry.dbname
    if (userInfo.split(':')[0] === '' && entry.user) options.username = entry.user
    if (options.password === undefined && !hasPassword && entry.password) options.password = entry.password
  }
  return {url: stripped, options}
}

/** One service's settings from the first service file that exists (key=value lines under [name]). */
function serviceEntry(name: string): Record<string, string> {
  const files = [
    process.env.PGSERVICEFILE,
    path.join(os.homedir(), '.pg_service.conf'),
    path.join(process.env.PGSYSCONFDIR ?? '/etc/postgresql-common', 'pg_service.conf'),
  ].filter((f): f is string => Boolean(f))
  for (const file of files) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    let section: string | undefined
    const entry: Record<string, string> = {}
    let found = false
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.trim()
      if (line === '' || line.startsWith('#')) continue
      const head = /^\[(.+)\]$/.exec(line)
      if (head) {
        section = head[1]?.trim()
        if (section === name) found = true
        continue
      }
      const eq = line.indexOf('=')
      if (section === name && eq > 0) entry[line.slice(0, eq).trim()] = line.slice(eq + 1).trim()
    }
    if (found) return entry
  }
  throw new ValidationError(
    `The database service ${JSON.stringify(name)} is not in any service file (${files.join(', ')}).`,
  )
}

/** How long a run lock lasts unless its holder extends it (every LEASE_RENEW_MS while it runs). */
export const LEASE_MS = 5 * 60_000
const LEASE_RENEW_MS = 60_000

/**
 * Run locks as lease rows (openmemory_admin.run_locks): taken when the name is
 * free, its lease expired, or (directly connected) its holder's session has
 * ended; extended while held; deleted when released. One statement each, so
 * it holds through a pooler.
 */
function runLease(db: Db, pooled: boolean) {
  const owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  const timers = new Map<string, NodeJS.Timeout>()
  const session = pooled
    ? sqlTag`null::int, null::timestamptz`
    : sqlTag`pg_backend_pid(), (select backend_start from pg_stat_activity where pid = pg_backend_pid())`
  return {
    async acquire(name: string): Promise<boolean> {
      const [row] = await rows<{owner: string}>(
        db,
        sqlTag`insert into openmemory_admin.run_locks as l (name, owner, expires_at, backend_pid, backend_start)
          select ${name}, ${owner}, now() + ${`${LEASE_MS} milliseconds`}::interval, ${session}
          on conflict (name) do update
            set owner = excluded.owner, expires_at = excluded.expires_at,
                backend_pid = excluded.backend_pid, backend_start = excluded.backend_start
            where l.expires_at < now()
               or (l.backend_pid is not null and not exists (
                     select 1 from pg_stat_activity a
                     where a.pid = l.backend_pid and a.backend_start = l.backend_start))
          returning owner`,
      )
      if (row?.owner !== owner) return false
      const timer = setInterval(() => {
        db.execute(
          sqlTag`update openmemory_admin.run_locks set expires_at = now() + ${`${LEASE_MS} milliseconds`}::interval
                 where name = ${name} and owner = ${owner}`,
        ).catch(() => {})
      }, LEASE_RENEW_MS)
      timer.unref()
      timers.set(name, timer)
      return true
    },
    async release(name: string): Promise<void> {
      clearInterval(timers.get(name))
      timers.delete(name)
      await db.execute(
        sqlTag`delete from openmemory_admin.run_locks where name = ${name} and owner = ${owner}`,
      )
    },
    stop() {
      for (const timer of timers.values()) clearInterval(timer)
      timers.clear()
    },
  }
}

/**
 * Apply pending migrations, serialised across processes by an advisory lock
 * (blocking: a second `db migrate` waits, then finds nothing to do).
 */
export async function runMigrations(database: Database): Promise<{applied: string[]}> {
  const {readMigrationFiles} = await import('drizzle-orm/migrator')
  const config = {
    migrationsFolder: MIGRATIONS_FOLDER,
    migrationsSchema: MIGRATIONS_SCHEMA,
    migrationsTable: MIGRATIONS_TABLE,
  }
  const all = readMigrationFiles(config)
  const {db} = database
  // Nothing to do (the common case, on every open of the embedded database): skip drizzle's pass.
  if (await upToDate(database, all)) return {applied: []}
  // Concurrent migrations wait for one another; behind a pooler a session lock could stay
  // behind on a pooled server session, so there the migration's own transaction decides.
  if (!database.pooled) await db.execute(sqlTag`select pg_advisory_lock(${advisoryKey('migrate')})`)
  try {
    const before = await appliedMigrationTimes(database)
    const {migrate} = await import('drizzle-orm/postgres-js/migrator')
    await migrate(db as never, config)
    const after = await appliedMigrationTimes(database)
    const tags = await migrationTags()
    return {
      applied: all
        .filter((m) => after.has(m.folderMillis) && !before.has(m.folderMillis))
        .map((m) => tags.get(m.folderMillis) ?? String(m.folderMillis)),
    }
  } finally {
    if (!database.pooled) await db.execute(sqlTag`select pg_advisory_unlock(${advisoryKey('migrate')})`)
  }
}

/**
 * Whether the database records exactly the shipped migrations: as many rows
 * as migrations, the newest with the newest migration's time and hash.
 */
async function upToDate(database: Database, all: {folderMillis: number; hash: string}[]): Promise<boolean> {
  const latest = all.at(-1)
  if (!latest) return true
  if (!(await tableExists(database.db, `${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`))) return false
  const [row] = await rows<{n: number; hash: string | null; created_at: string | number | null}>(
    database.db,
    sqlTag.raw(
      `select count(*)::int as n, (array_agg(hash order by created_at desc))[1] as hash,
              max(created_at) as created_at from "${MIGRATIONS_SCHEMA}"."${MIGRATIONS_TABLE}"`,
    ),
  )
  return row?.n === all.length && row.hash === latest.hash && Number(row.created_at) === latest.folderMillis
}

/** `created_at` (the migration's folder time) of every applied migration; empty when none. */
export async function appliedMigrationTimes(database: Database): Promise<Set<number>> {
  if (!(await tableExists(database.db, `${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`))) return new Set()
  const applied = await rows<{created_at: string | number}>(
    database.db,
    sqlTag.raw(`select created_at from "${MIGRATIONS_SCHEMA}"."${MIGRATIONS_TABLE}"`),
  )
  return new Set(applied.map((r) => Number(r.created_at)))
}

/** The migrations shipped with the tool: tag and folder time, from drizzle's journal. */
export async function migrationTags(): Promise<Map<number, string>> {
  const {readFileSync} = await import('node:fs')
  const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as {
    entries: {when: number; tag: string}[]
  }
  return new Map(journal.entries.map((e) => [e.when, e.tag]))
}
