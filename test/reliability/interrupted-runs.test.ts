/**
 * Interrupted runs never leave a key for a user who does not exist, nor lose
 * one that was committed (issue 22, points 2, 4 and 6). The built CLI runs
 * as a child process and stops itself at a named moment (OPENMEMORY_STOP_AT,
 * src/stop-point.ts): with its key files staged, inside its transaction, or
 * after its commit. The test then sends SIGINT, SIGTERM or SIGKILL there, on
 * the real PostgreSQL server and on the embedded database, and checks the
 * files, the journal, the database, and that a rerun succeeds.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import {sql} from 'drizzle-orm'
import postgres from 'postgres'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/client.js'
import {rows} from '../../src/db/sql.js'
import {readKeysCsv, teamCsv, tempDir} from '../helpers/bulk.js'
import {createTestDatabase, DRIVERS, type TestDatabase} from '../helpers/databases.js'
import {type BinOptions, runBin} from '../helpers/run.js'
import {serverAuthenticates} from '../helpers/server-rule.js'

type Point = NonNullable<BinOptions['stopAt']>['point']

/** The journals (src/ui/pending.ts) of runs whose destination is under `dir`. */
function journalsUnder(dir: string): string[] {
  const home = path.join(process.env.XDG_DATA_HOME ?? '', 'openmemory', 'pending')
  if (!existsSync(home)) return []
  return readdirSync(home).filter((f) => {
    try {
      return (JSON.parse(readFileSync(path.join(home, f), 'utf8')) as {path: string}).path.startsWith(dir)
    } catch {
      return false
    }
  })
}

const keyIn = (file: string) => readFileSync(file, 'utf8').trim()

describe.each(DRIVERS)('interrupted key-writing runs (%s)', (driver) => {
  let td: TestDatabase
  let tmp: string
  beforeAll(async () => {
    td = await createTestDatabase(driver, undefined, {migrated: true})
  })
  afterAll(async () => {
    await td?.drop()
  })
  /** The database opened for one check and closed again (the embedded one serves one process at a time). */
  const check = async <T>(fn: (database: Database) => Promise<T>): Promise<T> => {
    const database = await td.open()
    try {
      return await fn(database)
    } finally {
      await database.close()
    }
  }
  const authenticates = (key: string) => check((database) => serverAuthenticates(database, key))
  beforeEach(() => {
    tmp = tempDir()
  })
  const env = () =>
    driver === 'postgres'
      ? {OPENMEMORY_DATABASE_URL: td.url!}
      : {OPENMEMORY_DATA_DIR: td.dataDir!, OPENMEMORY_DATABASE_URL: undefined, DATABASE_URL: undefined}
  const cli = (argv: string[], stop?: {point: Point; signal: NodeJS.Signals | null}) =>
    runBin(argv, {
      env: env(),
      stopAt: stop && {point: stop.point, meanwhile: async () => stop.signal},
    })
  const usersLike = (prefix: string) =>
    check(
      async (database) =>
        (
          await rows<{n: number}>(
            database.db,
            sql`select count(*)::int as n from users where user_id like ${`${prefix}%`}`,
          )
        )[0].n,
    )
  const team = (prefix: string) => {
    const csv = path.join(tmp, `${prefix}.csv`)
    writeFileSync(csv, teamCsv(3, prefix))
    return csv
  }
  const expectKeysWork = async (dir: string, prefix: string) => {
    const files = readdirSync(dir).sort()
    expect(files).toEqual([`${prefix}1.key`, `${prefix}2.key`, `${prefix}3.key`, 'manifest.csv'].sort())
    for (const i of [1, 2, 3])
      expect(await authenticates(keyIn(path.join(dir, `${prefix}${i}.key`)))).toBe(`${prefix}${i}`)
  }

  it.each([
    ['staged', 'SIGINT', 130],
    ['in-transaction', 'SIGTERM', 143],
    ['in-transaction', 'SIGINT', 130],
  ] as const)('users import, %s, %s: exit %i, nothing changed, no file or journal left; the rerun succeeds', async (point, signal, code) => {
    const prefix = `${point.slice(0, 2)}${signal.slice(3, 6).toLowerCase()}`
    const csv = team(prefix)
    const dir = path.join(tmp, 'keys')
    const r = await cli(['users', 'import', csv, '--key-dir', dir], {point, signal})
    expect(r.exitCode, r.stderr).toBe(code)
    expect(r.stderr).toContain('nothing was changed and no key file was left')
    expect(existsSync(dir)).toBe(false)
    expect(readdirSync(tmp).filter((f) => f !== `${prefix}.csv`)).toEqual([])
    expect(journalsUnder(tmp)).toEqual([])
    expect(await usersLike(prefix)).toBe(0)
    const again = await cli(['users', 'import', csv, '--key-dir', dir])
    expect(again.exitCode, again.stderr).toBe(0)
    await expectKeysWork(dir, prefix)
  })

  it('users import, SIGKILL inside the transaction: only temporary names stay; the next run removes them and the rerun succeeds', async () => {
    const csv = team('kin')
    const dir = path.join(tmp, 'keys')
    const r = await cli(['users', 'import', csv, '--key-dir', dir], {
      point: 'in-transaction',
      signal: 'SIGKILL',
    })
    expect(r.signal).toBe('SIGKILL')
    expect(await usersLike('kin')).toBe(0)
    // No key file for a user who does not exist: only the run's temporary names, and its journal.
    expect(readdirSync(dir).every((f) => /^\..+\.pending$/.test(f))).toBe(true)
    expect(readdirSync(dir)).toHaveLength(4)
    expect(journalsUnder(tmp)).toHaveLength(1)
    const again = await cli(['users', 'import', csv, '--key-dir', dir])
    expect(again.exitCode, again.stderr).toBe(0)
    expect(again.stderr).toMatch(
      /An interrupted 'users import' .* had not committed: its 4 unused key file\(s\)/,
    )
    await expectKeysWork(dir, 'kin')
    expect(journalsUnder(tmp)).toEqual([])
  })

  it('users import, SIGKILL after the commit: the next run gives the files their names', async () => {
    const csv = team('kco')
    const dir = path.join(tmp, 'keys')
    const r = await cli(['users', 'import', csv, '--key-dir', dir], {point: 'committed', signal: 'SIGKILL'})
    expect(r.signal).toBe('SIGKILL')
    expect(await usersLike('kco')).toBe(3)
    expect(readdirSync(dir).every((f) => f.endsWith('.pending'))).toBe(true)
    const again = await cli(['users', 'import', csv, '--key-dir', dir, '--skip-existing'])
    expect(again.exitCode, again.stderr).toBe(0)
    expect(again.stderr).toMatch(/had committed: its 4 file\(s\) now have their names/)
    expect(again.stderr).toContain('Nothing to create')
    await expectKeysWork(dir, 'kco')
    expect(journalsUnder(tmp)).toEqual([])
  })

  it('keys rotate --older-than, SIGINT after the commit: the exit waits for the keys to take their names (130)', async () => {
    const csv = team('rot')
    expect((await cli(['users', 'import', csv, '--key-dir', path.join(tmp, 'first')])).exitCode).toBe(0)
    const out = path.join(tmp, 'rotated.csv')
    const r = await cli(['keys', 'rotate', '--older-than', '0d', '--yes', '--keys-out', out], {
      point: 'committed',
      signal: 'SIGINT',
    })
    expect(r.exitCode, r.stderr).toBe(130)
    expect(r.stderr).toContain(`Interrupted after the commit: the keys are in ${out}`)
    const keys = readKeysCsv(out).filter((k) => k.userId.startsWith('rot'))
    expect(keys).toHaveLength(3)
    for (const k of keys) expect(await authenticates(k.apiKey)).toBe(k.userId)
    expect(readdirSync(tmp).filter((f) => f.endsWith('.pending'))).toEqual([])
  })

  it('users create --key-file, SIGKILL with the key staged: no user, no key file; the rerun creates both', async () => {
    const file = path.join(tmp, 'solo.key')
    const r = await cli(['users', 'create', 'solo', '--key-file', file], {point: 'staged', signal: 'SIGKILL'})
    expect(r.signal).toBe('SIGKILL')
    expect(existsSync(file)).toBe(false)
    expect(await usersLike('solo')).toBe(0)
    const again = await cli(['users', 'create', 'solo', '--key-file', file])
    expect(again.exitCode, again.stderr).toBe(0)
    expect(again.stderr).toMatch(/'users create' .* had not committed/)
    expect(await authenticates(keyIn(file))).toBe('solo')
    expect(readdirSync(tmp)).toEqual(['solo.key'])
  })
})

describe('long runs and the key directory (PostgreSQL)', () => {
  let td: TestDatabase
  let database: Database
  let tmp: string
  beforeAll(async () => {
    td = await createTestDatabase('postgres', undefined, {migrated: true})
    database = await td.open()
    const admin = postgres(td.url!, {max: 1, onnotice: () => {}})
    const name = new URL(td.url!).pathname.slice(1)
    await admin.unsafe(`alter database "${name}" set idle_in_transaction_session_timeout = '1s'`)
    await admin.end({timeout: 1})
  })
  afterAll(async () => {
    await database?.close()
    await td?.drop()
  })
  beforeEach(() => {
    tmp = tempDir()
  })
  const cli = (argv: string[], stopAt?: BinOptions['stopAt']) =>
    runBin(argv, {env: {OPENMEMORY_DATABASE_URL: td.url!}, stopAt})

  it('idle_in_transaction_session_timeout = 1s: a 20,000-user import with --key-dir succeeds (nothing waits on the disk in the transaction)', async () => {
    const csv = path.join(tmp, 'big.csv')
    writeFileSync(csv, teamCsv(20_000, 'big'))
    const dir = path.join(tmp, 'keys')
    const r = await cli(['users', 'import', csv, '--key-dir', dir])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(readdirSync(dir)).toHaveLength(20_001)
    for (const i of [1, 10_000, 20_000])
      expect(await serverAuthenticates(database, keyIn(path.join(dir, `big${i}.key`)))).toBe(`big${i}`)
  })

  it('a transaction the server ends for idling is reported as that, not as the network (exit 75), and leaves nothing', async () => {
    const csv = path.join(tmp, 'idle.csv')
    writeFileSync(csv, teamCsv(2, 'idle'))
    const dir = path.join(tmp, 'keys')
    const r = await cli(['users', 'import', csv, '--key-dir', dir], {
      point: 'in-transaction',
      meanwhile: async () => {
        await new Promise((resolve) => setTimeout(resolve, 2500))
        return null
      },
    })
    expect(r.exitCode, r.stderr).toBe(75)
    expect(r.stderr).toMatch(/idle_in_transaction_session_timeout = 1s/)
    expect(r.stderr).not.toMatch(/check that PostgreSQL is running/)
    expect(existsSync(dir)).toBe(false)
    expect(journalsUnder(tmp)).toEqual([])
  })

  it('the key directory is written through its descriptor: swapped for a link meanwhile, the keys stay in the directory made', async () => {
    const csv = path.join(tmp, 'fd.csv')
    writeFileSync(csv, teamCsv(2, 'fd'))
    const dir = path.join(tmp, 'keys')
    const moved = path.join(tmp, 'keys.moved')
    const elsewhere = path.join(tmp, 'elsewhere')
    const r = await cli(['users', 'import', csv, '--key-dir', dir], {
      point: 'committed',
      meanwhile: async () => {
        renameSync(dir, moved)
        mkdirSync(elsewhere)
        symlinkSync(elsewhere, dir)
        return null
      },
    })
    expect(r.exitCode, r.stderr).toBe(0)
    expect(readdirSync(elsewhere)).toEqual([])
    expect(readdirSync(moved).sort()).toEqual(['fd1.key', 'fd2.key', 'manifest.csv'])
    expect(await serverAuthenticates(database, keyIn(path.join(moved, 'fd1.key')))).toBe('fd1')
  })

  it('a role that may not read pg_control_system() still has its interrupted run settled (host, port and name identify the database)', async () => {
    const role = `om_plain_${process.pid}`
    const name = new URL(td.url!).pathname.slice(1)
    const admin = postgres(td.url!, {max: 1, onnotice: () => {}})
    try {
      await admin.unsafe(`drop role if exists ${role}`)
      await admin.unsafe(`create role ${role} login`)
      await admin.unsafe(`grant connect on database "${name}" to ${role}`)
      for (const schema of ['public', 'openmemory_admin']) {
        await admin.unsafe(`grant usage on schema ${schema} to ${role}`)
        await admin.unsafe(
          `grant select, insert, update, delete on all tables in schema ${schema} to ${role}`,
        )
        await admin.unsafe(`grant usage, select on all sequences in schema ${schema} to ${role}`)
      }
      await admin.unsafe('revoke execute on function pg_control_system() from public')
      const url = new URL(td.url!)
      url.username = role
      const file = path.join(tmp, 'plain.key')
      const as = (stopAt?: BinOptions['stopAt']) =>
        runBin(['users', 'create', 'plainrole', '--key-file', file], {
          env: {OPENMEMORY_DATABASE_URL: url.href},
          stopAt,
        })
      const killed = await as({point: 'staged', meanwhile: async () => 'SIGKILL'})
      expect(killed.signal).toBe('SIGKILL')
      expect(journalsUnder(tmp)).toHaveLength(1)
      const again = await as()
      expect(again.exitCode, again.stderr).toBe(0)
      expect(again.stderr).toMatch(/'users create' .* had not committed/)
      expect(await serverAuthenticates(database, keyIn(file))).toBe('plainrole')
      expect(journalsUnder(tmp)).toEqual([])
    } finally {
      await admin.unsafe('grant execute on function pg_control_system() to public').catch(() => {})
      await admin.unsafe(`drop owned by ${role}`).catch(() => {})
      await admin.unsafe(`drop role if exists ${role}`).catch(() => {})
      await admin.end({timeout: 1})
    }
  })
})
