/**
 * Connection failures, loopback only: a host that accepts but never answers,
 * a refused port, an unknown role, a missing database, TLS required by the
 * URL but not offered by the server. Each exits 5 with one line naming the
 * masked target and what to check, within a bounded time, and never shows
 * the password.
 */
import net from 'node:net'
import {afterAll, beforeAll, describe, it} from 'vitest'
import {ADMIN_URL} from '../helpers/databases.js'
import {isOneLine, runCli} from './harness.js'

const PASSWORD = 'Pw-d0nt_show-9f3a'
const CONNECT_TIMEOUT_S = 2

function url(port: number, opts: {user?: string; db?: string; query?: string} = {}): string {
  return `postgres://${opts.user ?? 'postgres'}:${PASSWORD}@127.0.0.1:${port}/${opts.db ?? 'postgres'}${opts.query ?? ''}`
}

async function listen(onConnection: (socket: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    onConnection(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

const port = (s: net.Server) => (s.address() as net.AddressInfo).port
const pgPort = Number(new URL(ADMIN_URL).port || 5432)

describe('connection failures exit 5 with one line, in bounded time', () => {
  const servers: net.Server[] = []
  let silent: net.Server
  let noTls: net.Server
  let closedPort: number

  beforeAll(async () => {
    // Accepts the TCP connection, never says a word.
    silent = await listen(() => {})
    // Answers the TLS request with 'N' (no TLS), as a PostgreSQL server without TLS does, then nothing.
    noTls = await listen((s) => s.once('data', () => s.write('N')))
    const closed = await listen(() => {})
    closedPort = port(closed)
    await new Promise((r) => closed.close(r))
    servers.push(silent, noTls)
  })
  afterAll(() => {
    for (const s of servers) s.close()
  })

  const cases: {name: string; url: () => string; expect: RegExp}[] = [
    {
      name: 'an unresponsive host (accepts, never answers)',
      url: () => url(port(silent)),
      expect: /timed out: check the host, port and firewall/,
    },
    {
      name: 'a refused connection (closed port)',
      url: () => url(closedPort),
      expect: /connection refused: check that PostgreSQL is running/,
    },
    {
      name: 'a role the server does not know (authentication fails)',
      url: () => url(pgPort, {user: 'om_no_such_role'}),
      expect: /authentication failed: check the user name and password/,
    },
    {
      name: 'a missing database',
      url: () => url(pgPort, {db: 'om_no_such_database'}),
      expect: /the database does not exist: check the database name/,
    },
    {
      name: 'TLS required by the URL, the local server has none',
      url: () => url(pgPort, {query: '?sslmode=require'}),
      expect: /requires TLS: check that the server accepts TLS connections/,
    },
    {
      name: 'TLS required by the URL, the server refuses it and goes quiet',
      url: () => url(port(noTls), {query: '?sslmode=require'}),
      expect: /requires TLS: check that the server accepts TLS connections/,
    },
  ]

  // Concurrently (vitest's maxConcurrency at a time): the cases spend their time waiting on sockets.
  for (const c of cases) {
    for (const argv of [
      ['users', 'list'],
      ['db', 'status', '--json'],
    ]) {
      it.concurrent(`${c.name}: ${argv.join(' ')}`, async ({expect}) => {
        const target = c.url()
        const r = await runCli([...argv, '--database-url', target], {
          env: {OPENMEMORY_CONNECT_TIMEOUT: String(CONNECT_TIMEOUT_S), DEBUG: undefined},
        })
        // A hang would be killed by runCli's bound and fail here (exit null, not 5).
        expect(r.exitCode).toBe(5)
        // Under --json the error is the JSON document on stdout, and stderr stays empty.
        const message = argv.includes('--json') ? JSON.parse(r.stdout).error.message : r.stderr
        if (argv.includes('--json')) {
          expect(r.stderr).toBe('')
          expect(JSON.parse(r.stdout).error).toMatchObject({exitCode: 5, code: 'DB_UNAVAILABLE'})
        } else expect(isOneLine(r.stderr)).toBe(true)
        expect(message).toMatch(c.expect)
        expect(message).toContain(target.replace(PASSWORD, '***'))
        expect(r.stdout + r.stderr).not.toContain(PASSWORD)
      })
    }
  }
})
