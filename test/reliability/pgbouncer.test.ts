/**
 * Through a real PgBouncer (Debian's pgbouncer, started by the test on
 * 127.0.0.1 in front of the local PostgreSQL), in transaction mode and in
 * session mode: the tool detects the pooler by its refusal of startup
 * parameters and keeps no session state (lock_timeout SET LOCAL per
 * transaction, listings inside a read-only transaction, no named prepared
 * statements); its run lock is a lease row, so it holds and is released
 * through the pooler.
 *
 * Also, directly connected, the lease's takeover rules: a lease whose
 * holder's session has ended is taken at once; a pooled holder's lease (no
 * session named) only once it has expired.
 */
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import postgres from 'postgres'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ADMIN_URL, createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {keysIn, runCli} from './harness.js'

const PGBOUNCER = ['pgbouncer', '/usr/sbin/pgbouncer'].find((b) => spawnSync(b, ['--version']).status === 0)
const hasPgbouncer = PGBOUNCER !== undefined

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

/** Start PgBouncer in `mode` in front of 127.0.0.1:5432; resolves once it accepts connections. */
async function startPgbouncer(dir: string, mode: 'transaction' | 'session', password = '') {
  const port = await freePort()
  const admin = new URL(ADMIN_URL)
  const ini = path.join(dir, `${mode}.ini`)
  writeFileSync(path.join(dir, 'users.txt'), `"${admin.username || 'postgres'}" "${password}"\n`)
  writeFileSync(
    ini,
    `[databases]
* = host=${admin.hostname} port=${admin.port || 5432}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = ${password ? 'plain' : 'trust'}
auth_file = ${path.join(dir, 'users.txt')}
pool_mode = ${mode}
default_pool_size = 3
max_client_conn = 100
`,
  )
  // PgBouncer will not run as root: as nobody when we are root.
  const args = process.getuid?.() === 0 ? ['-u', 'nobody', ini] : [ini]
  const child: ChildProcess = spawn(PGBOUNCER as string, args, {stdio: ['ignore', 'ignore', 'pipe']})
  let log = ''
  child.stderr?.on('data', (d) => {
    log += d
  })
  for (let i = 0; ; i++) {
    if (i === 200) throw new Error(`pgbouncer did not start: ${log.slice(-500)}`)
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) break
    await new Promise((r) => setTimeout(r, 25))
  }
  return {port, stop: () => child.kill('SIGTERM')}
}

describe.skipIf(!hasPgbouncer).each(['transaction', 'session'] as const)(
  'through PgBouncer in %s mode',
  (mode) => {
    let td: TestDatabase
    let dir = ''
    let bouncer: Awaited<ReturnType<typeof startPgbouncer>>
    let env: Record<string, string | undefined>
    let direct: postgres.Sql
    beforeAll(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'om-pgb-'))
      chmodSync(dir, 0o755)
      bouncer = await startPgbouncer(dir, mode)
      td = await createTestDatabase('postgres', 'multiuser')
      const url = new URL(td.url as string)
      url.port = String(bouncer.port)
      env = {OPENMEMORY_DATABASE_URL: url.toString(), DATABASE_URL: undefined}
      direct = postgres(td.url as string, {max: 1, onnotice: () => {}})
    })
    afterAll(async () => {
      await direct?.end()
      bouncer?.stop()
      await td?.drop()
      if (dir) rmSync(dir, {recursive: true, force: true})
    })

    it(
      'migrates, creates, races twelve creates, lists, prunes and rotates, all through the pooler',
      {timeout: 180_000},
      async () => {
        const migrate = await runCli(['db', 'migrate', '--json'], {env})
        expect(migrate.exitCode, migrate.stderr).toBe(0)

        const one = await runCli(['users', 'create', 'alice', 'Alice', '--json'], {env})
        expect(one.exitCode, one.stderr).toBe(0)
        const key = keysIn(one.stdout)[0] as string
        expect(key).toBeTruthy()

        // Twelve creates at once: twelve users, each with its key and app, none lost.
        const ids = Array.from({length: 12}, (_, i) => `race_${i}`)
        const races = await Promise.all(ids.map((id) => runCli(['users', 'create', id, '--json'], {env})))
        expect(races.map((r) => r.exitCode)).toEqual(ids.map(() => 0))
        const [{n}] = await direct`select count(*)::int as n from users u
      join api_keys k on k.user_id = u.id join apps a on a.owner_id = u.id where u.user_id like 'race_%'`
        expect(n).toBe(12)

        const list = await runCli(['users', 'list', '--json'], {env: {...env, OPENMEMORY_FETCH_SIZE: '3'}})
        expect(list.exitCode, list.stderr).toBe(0)
        expect((JSON.parse(list.stdout) as unknown[]).length).toBe(13)

        const verify = await runCli(['keys', 'verify'], {env, input: key})
        expect(verify.exitCode).toBe(0)

        await direct`update users set created_at = created_at - interval '200 days', last_active = null
                 where user_id like 'race_%'`
        const prune = await runCli(
          ['prune-inactive', '--days', '90', '--yes', '--batch-size', '5', '--json'],
          {env},
        )
        expect(prune.exitCode, prune.stderr).toBe(0)
        expect(JSON.parse(prune.stdout)).toMatchObject({changedCount: 12})

        const rotate = await runCli(
          ['keys', 'rotate', '--older-than', '1d', '--yes', '--keys-out', path.join(dir, `${mode}-keys.csv`)],
          {env},
        )
        expect(rotate.exitCode, rotate.stderr).toBe(0)
        // Every run lock was released through the pooler.
        expect(await direct`select name from openmemory_admin.run_locks`).toEqual([])
      },
    )

    it(
      'two prunes at once through the pooler: one runs, the other exits 75',
      {timeout: 120_000},
      async () => {
        await direct`insert into users (id, user_id, name, created_at, updated_at)
      select gen_random_uuid(), 'old_' || g, 'Old', now() - interval '400 days', now() - interval '400 days'
      from generate_series(1, 2000) g`
        const args = ['prune-inactive', '--days', '90', '--mode', 'delete', '--yes', '--batch-size', '10']
        const [a, b] = await Promise.all([runCli(args, {env}), runCli(args, {env})])
        expect([a.exitCode, b.exitCode].sort()).toEqual([0, 75])
        const [{n}] = await direct`select count(*)::int as n from users where user_id like 'old_%'`
        expect(n).toBe(0)
        expect(await direct`select name from openmemory_admin.run_locks`).toEqual([])
      },
    )
  },
)

describe('run lock leases, directly connected', () => {
  let td: TestDatabase
  let sql: postgres.Sql
  let env: Record<string, string | undefined>
  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    sql = postgres(td.url as string, {max: 1, onnotice: () => {}})
    env = {OPENMEMORY_DATABASE_URL: td.url, DATABASE_URL: undefined}
  })
  afterAll(async () => {
    await sql?.end()
    await td?.drop()
  })

  const prune = () => runCli(['prune-inactive', '--days', '90', '--yes', '--json'], {env})

  it('takes over at once a lease whose holder session has ended', async () => {
    // A holder that died without letting go: its session (pid, start) no longer exists.
    await sql`insert into openmemory_admin.run_locks (name, owner, expires_at, backend_pid, backend_start)
      values ('prune-inactive', 'dead', now() + interval '5 minutes', 2147483000, now() - interval '1 hour')`
    const r = await prune()
    expect(r.exitCode, r.stderr).toBe(0)
    expect(await sql`select * from openmemory_admin.run_locks`).toEqual([])
  })

  it('waits out (exit 75) a pooled holder lease until it expires, then takes it', async () => {
    await sql`insert into openmemory_admin.run_locks (name, owner, expires_at)
      values ('prune-inactive', 'pooled', now() + interval '5 minutes')`
    expect((await prune()).exitCode).toBe(75)
    await sql`update openmemory_admin.run_locks set expires_at = now() - interval '1 second'`
    const r = await prune()
    expect(r.exitCode, r.stderr).toBe(0)
    expect(await sql`select * from openmemory_admin.run_locks`).toEqual([])
  })
})

describe.skipIf(!hasPgbouncer)('every password form of a URL, against a pooler that checks passwords', () => {
  const PASSWORD = 's3cr#t/@x'
  let td: TestDatabase
  let dir = ''
  let bouncer: Awaited<ReturnType<typeof startPgbouncer>>
  let host = ''
  let db = ''
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'om-pgb-auth-'))
    chmodSync(dir, 0o755)
    bouncer = await startPgbouncer(dir, 'session', PASSWORD)
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    host = `127.0.0.1:${bouncer.port}`
    db = new URL(td.url as string).pathname
  })
  afterAll(async () => {
    bouncer?.stop()
    await td?.drop()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  const list = (url: string, env: Record<string, string | undefined> = {}) =>
    runCli(['users', 'list', '--json'], {
      env: {OPENMEMORY_DATABASE_URL: url, DATABASE_URL: undefined, ...env},
    })
  const enc = encodeURIComponent(PASSWORD)

  it.each([
    ['user:pass@', () => [`postgres://postgres:${enc}@${host}${db}`, {}]],
    ['?password=', () => [`postgres://postgres@${host}${db}?password=${enc}`, {}]],
    ['PGPASSWORD', () => [`postgres://postgres@${host}${db}`, {PGPASSWORD: PASSWORD}]],
  ] as const)('%s authenticates, and DEBUG=* never shows the password', async (_form, make) => {
    const [url, env] = make() as [string, Record<string, string>]
    const r = await list(url, {...env, DEBUG: '*'})
    expect(r.exitCode, r.stderr.slice(-500)).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual([])
    expect(r.stdout + r.stderr).not.toContain(PASSWORD)
    expect(r.stdout + r.stderr).not.toContain(enc)
  })

  it('a service file (?service= or PGSERVICE) gives host, port, database, user and password', async () => {
    const file = path.join(dir, 'pg_service.conf')
    writeFileSync(
      file,
      `# services\n[om]\nhost=127.0.0.1\nport=${bouncer.port}\ndbname=${db.slice(1)}\nuser=postgres\npassword=${PASSWORD}\n`,
      {mode: 0o600},
    )
    for (const [url, extra] of [
      ['postgresql://?service=om', {}],
      ['postgresql://', {PGSERVICE: 'om'}],
    ] as const) {
      const r = await list(url, {PGSERVICEFILE: file, DEBUG: '*', ...extra})
      expect(r.exitCode, r.stderr.slice(-500)).toBe(0)
      expect(r.stdout + r.stderr).not.toContain(PASSWORD)
    }
    const missing = await list('postgresql://?service=nope', {PGSERVICEFILE: file})
    expect(missing.exitCode).toBe(2)
    expect(missing.stdout + missing.stderr).toMatch(/service \\"?nope\\"? is not in any service file/)
  })

  it('a wrong password fails with one line naming the authentication, and shows neither password', async () => {
    const r = await list(`postgres://postgres@${host}${db}?password=wrong-one`)
    expect(r.exitCode).toBe(5)
    expect(r.stderr).not.toContain('wrong-one')
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })
})
