/**
 * The embedded database's directory: never initialised over existing files
 * (a damaged or foreign directory exits 5, unchanged), private (folders 0700,
 * files 0600) whatever the umask or the parent's mode, and no code loaded
 * because of what its configuration files say.
 */
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {sql} from 'drizzle-orm'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import DbMigrate from '../../src/commands/db/migrate.js'
import UsersList from '../../src/commands/users/list.js'
import {openDatabase} from '../../src/db/client.js'
import {CLUSTER_DIR, EMBEDDED_PG_VERSION, INIT_MARKER} from '../../src/db/embedded.js'
import {rows} from '../../src/db/sql.js'
import {runCommand} from '../helpers/run.js'

const TEMPLATE = process.env.OPENMEMORY_TEST_EMBEDDED_TEMPLATE as string
let dir = ''
let dataDir = ''
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'om-datadir-'))
  dataDir = path.join(dir, 'pgdata')
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

const listWith = (dataDirectory: string) =>
  runCommand(UsersList, [], {
    OPENMEMORY_DATA_DIR: dataDirectory,
    OPENMEMORY_DATABASE_URL: undefined,
    DATABASE_URL: undefined,
  })

const migrateWith = (dataDirectory: string) =>
  runCommand(DbMigrate, [], {
    OPENMEMORY_DATA_DIR: dataDirectory,
    OPENMEMORY_DATABASE_URL: undefined,
    DATABASE_URL: undefined,
  })

/** Every path under `root` with its permission bits, sorted. */
function modes(root: string): [string, number][] {
  const out: [string, number][] = [['.', statSync(root).mode & 0o777]]
  for (const entry of readdirSync(root, {recursive: true, withFileTypes: true})) {
    const p = path.join(entry.parentPath, entry.name)
    out.push([path.relative(root, p), statSync(p).mode & 0o777])
  }
  return out.sort(([a], [b]) => a.localeCompare(b))
}

const snapshot = (root: string) => modes(root).map(([p]) => p)

describe('damaged or foreign directories', () => {
  it('embeds the PostgreSQL version the template has', () => {
    expect(readdirSync(path.join(TEMPLATE, CLUSTER_DIR))).toContain('PG_VERSION')
    expect(readFileSync(path.join(TEMPLATE, CLUSTER_DIR, 'PG_VERSION'), 'utf8').trim()).toBe(
      EMBEDDED_PG_VERSION,
    )
  })

  it('refuses a cluster that lost PG_VERSION (exit 5, names it, changes nothing)', async () => {
    cpSync(TEMPLATE, dataDir, {recursive: true})
    rmSync(path.join(dataDir, CLUSTER_DIR, 'PG_VERSION'))
    const before = snapshot(dataDir)
    const r = await listWith(dataDir)
    expect(r.exitCode).toBe(5)
    expect(r.stderr).toMatch(/missing PG_VERSION/)
    expect(r.stderr).toMatch(/Restore it from a backup, or move it away/)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(snapshot(dataDir)).toEqual(before)
  })

  it('refuses a folder of other files, and a file, without touching them', async () => {
    mkdirSync(dataDir)
    writeFileSync(path.join(dataDir, 'notes.txt'), 'mine')
    const r = await listWith(dataDir)
    expect(r.exitCode).toBe(5)
    expect(r.stderr).toMatch(/not an openmemory database \(it has notes\.txt\)/)
    expect(readdirSync(dataDir)).toEqual(['notes.txt'])

    const file = path.join(dir, 'afile')
    writeFileSync(file, 'x')
    const f = await listWith(file)
    expect(f.exitCode).toBe(5)
    expect(f.stderr).toMatch(/not a directory/)
  })

  it('refuses a cluster of another PostgreSQL version', async () => {
    cpSync(TEMPLATE, dataDir, {recursive: true})
    writeFileSync(path.join(dataDir, CLUSTER_DIR, 'PG_VERSION'), '16\n')
    const r = await listWith(dataDir)
    expect(r.exitCode).toBe(5)
    expect(r.stderr).toMatch(/PostgreSQL 16 database/)
  })

  it('refuses a database an earlier openmemory made with PGlite, naming what to do', async () => {
    mkdirSync(path.join(dataDir, 'base'), {recursive: true})
    writeFileSync(path.join(dataDir, 'PG_VERSION'), '18\n')
    const before = snapshot(dataDir)
    const r = await listWith(dataDir)
    expect(r.exitCode).toBe(5)
    expect(r.stderr).toMatch(/earlier openmemory with the PGlite engine/)
    expect(snapshot(dataDir)).toEqual(before)
  })

  it('creates a new database in an empty folder, and again over a first run that was cut short', async () => {
    mkdirSync(dataDir)
    // A maintenance command with no terminal does not create one (exit 5, nothing made)...
    const listed = await listWith(dataDir)
    expect(listed.exitCode).toBe(5)
    expect(listed.stderr).toMatch(/No database to work on/)
    expect(readdirSync(dataDir)).toEqual([])
    // ...db migrate (like users create and import) does.
    expect((await migrateWith(dataDir)).exitCode).toBe(0)
    expect(existsSync(path.join(dataDir, CLUSTER_DIR, 'PG_VERSION'))).toBe(true)
    expect(existsSync(path.join(dataDir, INIT_MARKER))).toBe(false)

    // A first run killed during initdb leaves its marker beside a partial cluster.
    const other = path.join(dir, 'other')
    mkdirSync(path.join(other, CLUSTER_DIR, 'base'), {recursive: true})
    writeFileSync(path.join(other, INIT_MARKER), '')
    const r = await migrateWith(other)
    expect(r.exitCode).toBe(0)
    expect(r.stderr).toMatch(/Creating the embedded database/)
    expect(existsSync(path.join(other, INIT_MARKER))).toBe(false)
    expect(existsSync(path.join(other, CLUSTER_DIR, 'PG_VERSION'))).toBe(true)
  })
})

describe('private files', () => {
  it('creates the folder 0700 and every file 0600 under umask 000 and a world-writable parent', async () => {
    chmodSync(dir, 0o777)
    const saved = process.umask(0)
    try {
      const database = await openDatabase(
        {kind: 'embedded', dataDir, source: 'OPENMEMORY_DATA_DIR', display: dataDir},
        {migrate: true},
      )
      await rows(database.db, sql`create table t as select g from generate_series(1, 1000) g`)
      await database.close()
      expect(process.umask()).toBe(0) // this process's own umask is not changed
    } finally {
      process.umask(saved)
    }
    const all = modes(dataDir)
    expect(all.length).toBeGreaterThan(100)
    const loose = all.filter(
      ([p, m]) => m !== (statSync(path.join(dataDir, p)).isDirectory() ? 0o700 : 0o600),
    )
    expect(loose).toEqual([])
  })

  it('tightens an existing open folder on open and says so once', async () => {
    cpSync(TEMPLATE, dataDir, {recursive: true})
    for (const [p] of modes(dataDir)) {
      const full = path.join(dataDir, p)
      chmodSync(full, statSync(full).isDirectory() ? 0o777 : 0o666)
    }
    const first = await listWith(dataDir)
    expect(first.exitCode).toBe(0)
    expect(first.stderr.match(/Made .* private/g)).toHaveLength(1)
    const loose = modes(dataDir).filter(
      ([p, m]) => m !== (statSync(path.join(dataDir, p)).isDirectory() ? 0o700 : 0o600),
    )
    expect(loose).toEqual([])
    const second = await listWith(dataDir)
    expect(second.exitCode).toBe(0)
    expect(second.stderr).not.toMatch(/private/)
  })
})

describe('what the data directory may not decide', () => {
  it('loads no library its configuration files name, and listens on no TCP port', async () => {
    cpSync(TEMPLATE, dataDir, {recursive: true})
    const conf = path.join(dataDir, CLUSTER_DIR, 'postgresql.auto.conf')
    writeFileSync(
      conf,
      `${readFileSync(conf, 'utf8')}\nshared_preload_libraries = '/nonexistent/evil'\nsession_preload_libraries = '/nonexistent/evil2'\nlisten_addresses = '*'\nport = 1\n`,
    )
    const database = await openDatabase(
      {kind: 'embedded', dataDir, source: 'OPENMEMORY_DATA_DIR', display: dataDir},
      {migrate: false},
    )
    try {
      const settings = await rows<{name: string; setting: string}>(
        database.db,
        sql`select name, setting from pg_settings
            where name in ('shared_preload_libraries', 'session_preload_libraries', 'listen_addresses', 'unix_socket_permissions')
            order by name`,
      )
      expect(settings).toEqual([
        {name: 'listen_addresses', setting: ''},
        {name: 'session_preload_libraries', setting: ''},
        {name: 'shared_preload_libraries', setting: ''},
        {name: 'unix_socket_permissions', setting: '0700'},
      ])
    } finally {
      await database.close()
    }
  })
})
