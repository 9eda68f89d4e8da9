/**
 * Every wait is bounded, on real PostgreSQL: a row another session holds
 * (lock_timeout, exit 75 naming what was waited for), a statement the server
 * cancels (statement_timeout: one line, no stack), and a port that answers
 * in another protocol (exit 5 after a handful of connections, not a flood).
 */
import net from 'node:net'
import postgres from 'postgres'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import DbStatus from '../../src/commands/db/status.js'
import KeysRotate from '../../src/commands/keys/rotate.js'
import PruneInactive from '../../src/commands/prune-inactive.js'
import UsersCreate from '../../src/commands/users/create.js'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {runCommand} from '../helpers/run.js'

describe('bounded waits (PostgreSQL)', () => {
  let td: TestDatabase
  let other: postgres.Sql
  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    await (await td.open({migrate: true})).close()
    expect((await runCommand(UsersCreate, ['alice', '--json', '--database-url', td.url!])).exitCode).toBe(0)
    other = postgres(td.url!, {max: 1, onnotice: () => {}})
  })
  afterAll(async () => {
    await other?.end({timeout: 1})
    await td?.drop()
  })

  /** Hold `statement` in an open transaction of another session until `fn` is done. */
  async function holding<T>(statement: string, fn: () => Promise<T>): Promise<T> {
    let release!: () => void
    const released = new Promise<void>((r) => {
      release = r
    })
    let held!: () => void
    const isHeld = new Promise<void>((r) => {
      held = r
    })
    const tx = other.begin(async (sql) => {
      await sql.unsafe(statement)
      held()
      await released
      throw new Error('rollback')
    })
    tx.catch(() => {})
    await isHeld
    try {
      return await fn()
    } finally {
      release()
      await tx.catch(() => {})
    }
  }

  it('keys rotate on a user row another session holds exits 75 naming the user (--lock-timeout)', async () => {
    const r = await holding("select * from users where user_id = 'alice' for update", () =>
      runCommand(KeysRotate, [
        'alice',
        '--yes',
        '--json',
        '--lock-timeout',
        '300ms',
        '--database-url',
        td.url!,
      ]),
    )
    expect(r.exitCode).toBe(75)
    const {error} = JSON.parse(r.stdout)
    expect(error).toMatchObject({code: 'BUSY', exitCode: 75})
    expect(error.message).toMatch(/Gave up waiting for user 'alice'.*lock_timeout/)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('prune-inactive behind an idle-in-transaction UPDATE exits 75 naming the batch (OPENMEMORY_LOCK_TIMEOUT)', async () => {
    await other.unsafe("update users set last_active = '2000-01-01', created_at = '2000-01-01'")
    const r = await holding("update users set name = name where user_id = 'alice'", () =>
      runCommand(PruneInactive, ['--days', '90', '--yes', '--json', '--database-url', td.url!], {
        OPENMEMORY_LOCK_TIMEOUT: '300ms',
      }),
    )
    expect(r.exitCode).toBe(75)
    expect(JSON.parse(r.stdout).error.message).toMatch(/Gave up waiting for the 1 user\(s\) of this batch/)
    const [row] = await other`select count(*)::int as n from openmemory_admin.deactivations`
    expect(row.n).toBe(0)
  })

  it('statement_timeout cancelling a statement is one line and exit 75, no stack trace', async () => {
    const db = new URL(td.url!).pathname.slice(1)
    await other.unsafe(`alter database ${db} set statement_timeout = '300ms'`)
    try {
      const r = await holding("select * from users where user_id = 'alice' for update", () =>
        runCommand(KeysRotate, ['alice', '--yes', '--lock-timeout', '60s', '--database-url', td.url!]),
      )
      expect(r.exitCode).toBe(75)
      // The target line of the write, then one error line.
      const lines = r.stderr.trim().split('\n')
      expect(lines).toHaveLength(2)
      expect(lines[0]).toMatch(/^openmemory: writing to /)
      expect(lines[1]).toMatch(/statement_timeout/)
    } finally {
      await other.unsafe(`alter database ${db} reset statement_timeout`)
    }
  })

  it('a malformed --lock-timeout exits 2 naming the flag', async () => {
    const r = await runCommand(KeysRotate, [
      'alice',
      '--yes',
      '--lock-timeout',
      'soon',
      '--database-url',
      td.url!,
    ])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/--lock-timeout must be a duration/)
  })
})

describe('a port that does not speak PostgreSQL', () => {
  let server: net.Server
  let connections = 0
  beforeAll(async () => {
    // Answers like an HTTP server (the API server's port): 400 and close.
    server = net.createServer((socket) => {
      connections++
      socket.on('error', () => {})
      socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  })
  afterAll(() => new Promise<void>((r) => server.close(() => r())))

  it('exits 5 saying host:port did not answer as PostgreSQL, after a handful of connections', async () => {
    const port = (server.address() as net.AddressInfo).port
    const r = await runCommand(DbStatus, ['--database-url', `postgres://u:secret@127.0.0.1:${port}/om`], {
      OPENMEMORY_CONNECT_TIMEOUT: '3',
    })
    expect(r.exitCode).toBe(5)
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringContaining(`127.0.0.1:${port} did not answer as PostgreSQL`),
    ])
    expect(r.stderr).not.toContain('secret')
    expect(connections).toBeGreaterThanOrEqual(1)
    expect(connections).toBeLessThanOrEqual(5)
  })
})
