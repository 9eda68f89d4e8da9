/**
 * Benchmark: every listing at scale, streamed, against `psql \copy` of the
 * very statement the listing runs (rendered from the same service code), in
 * one run; then the same listings at a small size to show memory stays flat;
 * then the embedded database against psql \copy of the statement over its socket.
 *
 *   npm run bench:scale                      # 1,000,000 and 10,000 users; embedded at 100,000
 *   BENCH_USERS=200000 BENCH_EMBEDDED_USERS=0 npm run bench:scale
 *
 * Each user has a key and a `default` app; memories are 2 per user; audit
 * rows 1 per user; 10% of users are deactivated. Seeded with set-based SQL
 * (generate_series) in throwaway databases, dropped at the end.
 * Needs PostgreSQL on 127.0.0.1:5432 (OPENMEMORY_TEST_PG_URL overrides the
 * admin URL), psql, /usr/bin/time and a built CLI (npm run build).
 * Targets: CLI wall <= 2x psql; peak RSS <= 150 MiB at the large size and
 * within 20 MiB of the small size. Exits 1 when a target is missed.
 */
import {execFile} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {type SQL, sql} from 'drizzle-orm'
import {PgDialect} from 'drizzle-orm/pg-core'
import postgres from 'postgres'
import {type DatabaseTarget, openDatabase} from '../src/db/client.js'
import {startEmbedded} from '../src/db/embedded.js'
import {rows as sqlRows} from '../src/db/sql.js'
import {auditSql} from '../src/services/audit.js'
import {keysListSql} from '../src/services/key-lifecycle.js'
import {planMemoryCount} from '../src/services/memories.js'
import {inactiveSql} from '../src/services/prune.js'
import {inactiveCutoff, usersListSql} from '../src/services/users.js'
import {loadGate, verdict} from './measure.js'

const ADMIN = process.env.OPENMEMORY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const LARGE = Number(process.env.BENCH_USERS ?? 1_000_000)
const SMALL = Number(process.env.BENCH_SMALL_USERS ?? 10_000)
const EMBEDDED = Number(process.env.BENCH_EMBEDDED_USERS ?? 100_000)
const ROOT = path.resolve(import.meta.dirname, '..')
const BIN = path.join(ROOT, 'bin/run.js')
const PRUNE_DAYS = 30
const MiB = 1024

interface Listing {
  name: string
  args: string[]
  /** The statement the listing runs, as the service builds it. */
  query: (db: Parameters<typeof planMemoryCount>[0], now: Date) => Promise<SQL>
}

const LISTINGS: Listing[] = [
  {name: 'users list (tsv)', args: ['users', 'list'], query: async (_db, now) => usersListSql({}, now)},
  {
    name: 'users list --json',
    args: ['users', 'list', '--json'],
    query: async (_db, now) => usersListSql({}, now),
  },
  {
    name: 'users list --jsonl',
    args: ['users', 'list', '--jsonl'],
    query: async (_db, now) => usersListSql({}, now),
  },
  {
    name: 'users list --format csv',
    args: ['users', 'list', '--format', 'csv'],
    query: async (_db, now) => usersListSql({}, now),
  },
  {name: 'keys list', args: ['keys', 'list'], query: async () => keysListSql({})},
  {
    name: 'memories count',
    args: ['memories', 'count'],
    query: async (db) => (await planMemoryCount(db, {})).query,
  },
  {
    name: 'memories count --by-app',
    args: ['memories', 'count', '--by-app'],
    query: async (db) => (await planMemoryCount(db, {byApp: true})).query,
  },
  {name: 'audit list', args: ['audit', 'list'], query: async () => auditSql({})},
  {
    name: 'prune-inactive --dry-run',
    args: ['prune-inactive', '--days', String(PRUNE_DAYS), '--dry-run'],
    query: async (_db, now) =>
      inactiveSql(inactiveCutoff(now, PRUNE_DAYS), {days: PRUNE_DAYS, mode: 'deactivate'}),
  },
]

/** The statement as text with its parameters inlined, on one line (for \copy). */
function inline(query: SQL): string {
  return new PgDialect().sqlToQuery(sql`${query}`.inlineParams()).sql.replace(/\s+/g, ' ')
}

function seedStatements(n: number): string[] {
  return [
    `insert into users (id, user_id, name, email, created_at, updated_at, last_active)
     select gen_random_uuid(), 'user_' || lpad(g::text, 7, '0'), 'User ' || g,
            case when g % 2 = 0 then 'u' || g || '@example.com' end,
            timestamp '2025-01-01' + g * interval '1 second', timestamp '2025-01-01',
            case when g % 3 = 0 then null else timestamp '2026-01-01' + (g % 300) * interval '1 day' end
     from generate_series(1, ${n}) g`,
    `insert into api_keys (id, user_id, key_hash, created_at, is_active)
     select gen_random_uuid(), id, encode(sha256(convert_to('mem_lab_' || user_id, 'utf8')), 'hex'),
            created_at, random() > 0.1 from users`,
    `insert into apps (id, owner_id, name, is_active, created_at, updated_at)
     select gen_random_uuid(), id, 'default', true, created_at, created_at from users`,
    `insert into memories (id, user_id, app_id, content, state, created_at, updated_at)
     select gen_random_uuid(), a.owner_id, a.id, 'memory',
            (array['active','active','archived','deleted'])[1 + (g + abs(hashtext(a.id::text))) % 4]::memorystate,
            timestamp '2026-01-01', timestamp '2026-01-01'
     from apps a, generate_series(1, 2) g`,
    `insert into openmemory_admin.deactivations (user_uuid, deactivated_at, reason, key_switched_off, app_ids)
     select id, now(), 'bench', false, '{}' from users where user_id like '%0'`,
    `insert into openmemory_admin.audit_log (at, os_user, host, command, target_user_id, outcome, details)
     select now() - g * interval '1 second', 'ops', 'bench', 'users create', 'user_' || lpad(g::text, 7, '0'),
            'created', jsonb_build_object('app', 'default', 'keyFingerprint', left(md5(g::text), 8))
     from generate_series(1, ${n}) g`,
    'analyze',
  ]
}

function timeCmd(
  file: string,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{wallS: number; rssKiB: number; code: number}> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'om-scale-'))
  const out = path.join(dir, 'time')
  const cmd = `exec /usr/bin/time -f '%e %M' -o '${out}' "$@" > /dev/null`
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      ['-c', cmd, 'bash', file, ...args],
      {env: {...process.env, ...env}, maxBuffer: 16 * 1024 * 1024},
      (error, _stdout, stderr) => {
        try {
          const [wall, rss] = readFileSync(out, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number)
          const code = error ? Number((error as {code?: number}).code ?? 1) : 0
          if (code !== 0)
            reject(new Error(`${file} ${args.join(' ')} exited ${code}: ${stderr.slice(0, 500)}`))
          else resolve({wallS: wall, rssKiB: rss, code})
        } catch (e) {
          reject(e)
        } finally {
          rmSync(dir, {recursive: true, force: true})
        }
      },
    )
  })
}

function urlFor(name: string): string {
  const u = new URL(ADMIN)
  u.pathname = `/${name}`
  return u.toString()
}

interface Row {
  name: string
  cliS: number
  baseS: number
  rssMiB: number
  baseRssMiB: number
}

function print(title: string, rows: Row[], base: string): void {
  console.log(`\n${title}`)
  console.log(
    `  ${'listing'.padEnd(26)} ${'CLI s'.padStart(7)} ${`${base} s`.padStart(9)} ${'ratio'.padStart(6)} ${'CLI MiB'.padStart(8)} ${`${base} MiB`.padStart(11)}`,
  )
  for (const r of rows) {
    console.log(
      `  ${r.name.padEnd(26)} ${r.cliS.toFixed(2).padStart(7)} ${r.baseS.toFixed(2).padStart(9)} ${(r.cliS / r.baseS).toFixed(2).padStart(6)} ${r.rssMiB.toFixed(1).padStart(8)} ${r.baseRssMiB.toFixed(1).padStart(11)}`,
    )
  }
}

async function server(users: number, opts: {explain: boolean}): Promise<Row[]> {
  const name = `om_scale_${users}_${process.pid}`
  const url = urlFor(name)
  const admin = postgres(ADMIN, {max: 1, onnotice: () => {}})
  await admin.unsafe(`create database ${name}`)
  try {
    const t0 = performance.now()
    const target: DatabaseTarget = {kind: 'postgres', url, source: '--database-url', display: name}
    const client = postgres(url, {max: 1, onnotice: () => {}})
    await client.unsafe(
      readFileSync(path.join(ROOT, 'test/fixtures/openmemory-multiuser-schema.sql'), 'utf8'),
    )
    await client.end()
    const database = await openDatabase(target, {migrate: true})
    try {
      for (const s of seedStatements(users)) await database.db.execute(sql.raw(s))
      console.log(
        `\nSeeded ${users} users, ${2 * users} memories in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      )
      const rows: Row[] = []
      const explained = new Set<string>()
      for (const l of LISTINGS) {
        const text = inline(await l.query(database.db, new Date()))
        if (opts.explain && !explained.has(text)) {
          explained.add(text)
          const plan = await sqlRows<{'QUERY PLAN': string}>(
            database.db,
            sql.raw(`explain (costs off) ${text}`),
          )
          console.log(`\nEXPLAIN ${l.name}:\n${plan.map((p) => `  ${p['QUERY PLAN']}`).join('\n')}`)
        }
        const base = await timeCmd('psql', ['-X', '-q', '-d', url, '-c', `\\copy (${text}) to stdout`], {})
        const cli = await timeCmd(process.execPath, [BIN, ...l.args], {
          DATABASE_URL: url,
          OPENMEMORY_DATABASE_URL: undefined,
        })
        rows.push({
          name: l.name,
          cliS: cli.wallS,
          baseS: base.wallS,
          rssMiB: cli.rssKiB / MiB,
          baseRssMiB: base.rssKiB / MiB,
        })
      }
      print(`PostgreSQL, ${users} users (CLI vs psql \\copy of the same statement)`, rows, 'psql')
      return rows
    } finally {
      await database.close()
    }
  } finally {
    await admin.unsafe(`drop database if exists ${name} with (force)`)
    await admin.end()
  }
}

async function embedded(users: number): Promise<Row[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'om-scale-embedded-'))
  const dataDir = path.join(dir, 'pgdata')
  try {
    const t0 = performance.now()
    const target: DatabaseTarget = {
      kind: 'embedded',
      dataDir,
      source: 'OPENMEMORY_DATA_DIR',
      display: dataDir,
    }
    const database = await openDatabase(target, {migrate: true})
    const texts: string[] = []
    try {
      for (const s of seedStatements(users)) await database.db.execute(sql.raw(s))
      for (const l of LISTINGS) texts.push(inline(await l.query(database.db, new Date())))
    } finally {
      await database.close()
    }
    console.log(
      `\nSeeded the embedded database: ${users} users in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    )
    const rows: Row[] = []
    for (const [i, l] of LISTINGS.entries()) {
      // Baseline: psql \copy of the statement over the embedded server's socket (the server
      // started for it; its start-up, about 0.2 s, is in the CLI's figure and not in this one).
      const server = await startEmbedded(dataDir, {lockWaitMs: 10_000})
      let base: Awaited<ReturnType<typeof timeCmd>>
      try {
        base = await timeCmd(
          'psql',
          [
            '-X',
            '-q',
            '-h',
            path.dirname(server.socketPath),
            '-U',
            'openmemory',
            '-d',
            'postgres',
            '-c',
            `\\copy (${texts[i]}) to stdout`,
          ],
          {},
        )
      } finally {
        await server.stop()
      }
      const cli = await timeCmd(process.execPath, [BIN, ...l.args], {
        DATABASE_URL: undefined,
        OPENMEMORY_DATABASE_URL: undefined,
        OPENMEMORY_DATA_DIR: dataDir,
      })
      rows.push({
        name: l.name,
        cliS: cli.wallS,
        baseS: base.wallS,
        rssMiB: cli.rssKiB / MiB,
        baseRssMiB: base.rssKiB / MiB,
      })
    }
    print(
      `Embedded database, ${users} users (CLI vs psql \\copy of the same statement over its socket)`,
      rows,
      'psql',
    )
    return rows
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

async function main() {
  const gate = loadGate()
  gate.print()
  // Fail in seconds, not after seeding, when the build is missing or stale.
  await timeCmd(process.execPath, [BIN, 'users', 'list', '--help'], {})
  const large = await server(LARGE, {explain: process.env.BENCH_EXPLAIN !== '0'})
  const small = await server(SMALL, {explain: false})
  let failed = false
  console.log(`\nTargets (${LARGE} users): ratio <= 2, RSS <= 150 MiB, RSS within 20 MiB of ${SMALL} users`)
  for (const r of large) {
    const s = small.find((x) => x.name === r.name)!
    const ratio = r.cliS / r.baseS
    const growth = r.rssMiB - s.rssMiB
    const ok = ratio <= 2 && r.rssMiB <= 150 && growth <= 20
    failed ||= !ok
    console.log(
      `  ${r.name.padEnd(26)} ratio ${ratio.toFixed(2)}  RSS ${r.rssMiB.toFixed(1)} MiB (${SMALL}: ${s.rssMiB.toFixed(1)}, +${growth.toFixed(1)})  ${ok ? 'ok' : 'MISSED'}`,
    )
  }
  if (EMBEDDED > 0) await embedded(EMBEDDED)
  verdict(gate, !failed)
}

await main()
