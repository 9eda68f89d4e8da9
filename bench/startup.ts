/**
 * Benchmark: start-up cost of the built CLI against bare baselines, measured
 * in one run as interleaved pairs (A, B, A, B, …), medians of BENCH_RUNS
 * (default 11, at least 9):
 *
 * - `users create` on PostgreSQL   vs  bench/bare-create.mjs (bare Node +
 *   postgres.js doing the same three inserts in one transaction);
 * - `--version`                    vs  `node -e 0`;
 * - `users list --json` (1,000 users) vs the same query through `psql`.
 *
 * Prints wall-clock medians, CPU (user+sys) medians and peak RSS, with ratios.
 * CPU time is the steadier figure on a shared machine; wall time is what a
 * user waits. Targets (issue 16): create ≤ 1.3×, --version ≤ 1.5×, every
 * command's peak RSS ≤ 80 MiB on PostgreSQL.
 *
 *   npm run build && npm run bench:startup
 *
 * Needs PostgreSQL on 127.0.0.1:5432 (OPENMEMORY_TEST_PG_URL overrides the
 * admin URL), /usr/bin/time and psql. The database it makes is dropped.
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import postgres from 'postgres'
import {loadGate, verdict} from './measure.js'

const ADMIN = process.env.OPENMEMORY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const RUNS = Math.max(9, Number(process.env.BENCH_RUNS ?? 11))
const ROOT = path.resolve(import.meta.dirname, '..')
const BIN = path.join(ROOT, 'bin/run.js')
const name = `om_bench_startup_${process.pid}`

interface Sample {
  wallMs: number
  cpuMs: number
  rssKiB: number
}

function urlFor(db: string): string {
  const u = new URL(ADMIN)
  u.pathname = `/${db}`
  return u.toString()
}

/** Run a command under /usr/bin/time: wall, user+sys CPU and peak RSS of the process. */
function measure(argv: string[], env: Record<string, string> = {}): Sample {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'om-bench-'))
  const out = path.join(tmp, 'time')
  try {
    const started = process.hrtime.bigint()
    const r = spawnSync('/usr/bin/time', ['-o', out, '-f', '%U %S %M', ...argv], {
      env: {...process.env, ...env},
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    })
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6
    if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`)
    const [user, sys, rss] = readFileSync(out, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number)
    return {wallMs, cpuMs: (user + sys) * 1000, rssKiB: rss}
  } finally {
    rmSync(tmp, {recursive: true, force: true})
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

interface Pair {
  label: string
  baseline: string
  target: number
  a: (i: number) => Sample
  b: (i: number) => Sample
}

async function main() {
  const gate = loadGate()
  gate.print()
  let allMet = true
  const admin = postgres(ADMIN, {max: 1, onnotice: () => {}})
  await admin.unsafe(`create database ${name}`)
  const url = urlFor(name)
  try {
    const setup = spawnSync(process.execPath, [BIN, 'db', 'migrate', '--database-url', url], {
      encoding: 'utf8',
    })
    if (setup.status !== 0) throw new Error(`db migrate failed: ${setup.stderr}`)
    const sql = postgres(url, {max: 1, onnotice: () => {}})
    await sql.unsafe(`
      insert into users (id, user_id, name, email, created_at, updated_at, last_active)
      select gen_random_uuid(), 'seed' || g, 'Seed ' || g, 'seed' || g || '@example.com', now(), now(), now()
      from generate_series(1, 1000) g`)
    await sql.unsafe(`
      insert into api_keys (id, user_id, key_hash, created_at, is_active)
      select gen_random_uuid(), id, encode(sha256(convert_to('mem_lab_' || user_id, 'utf8')), 'hex'), now(), true from users`)
    await sql.unsafe(`
      insert into apps (id, owner_id, name, is_active, created_at, updated_at)
      select gen_random_uuid(), id, 'default', true, now(), now() from users`)
    await sql.end()

    const listQuery = `select u.user_id, u.name, u.email, k.is_active, u.created_at, u.last_active
      from users u left join api_keys k on k.user_id = u.id order by u.user_id`
    const pairs: Pair[] = [
      {
        label: 'users create (PostgreSQL)',
        baseline: 'bare Node + postgres.js',
        target: 1.3,
        a: (i) =>
          measure([process.execPath, BIN, 'users', 'create', `bench_a${i + 1}`, '--json'], {
            DATABASE_URL: url,
          }),
        b: (i) =>
          measure([process.execPath, path.join(ROOT, 'bench/bare-create.mjs'), `bench_b${i + 1}`], {
            DATABASE_URL: url,
          }),
      },
      {
        label: '--version',
        baseline: 'node -e 0',
        target: 1.5,
        a: () => measure([process.execPath, BIN, '--version']),
        b: () => measure([process.execPath, '-e', '0']),
      },
      {
        label: 'users list --json (1,000 users)',
        baseline: 'psql, same query',
        target: Number.NaN,
        a: () => measure([process.execPath, BIN, 'users', 'list', '--json'], {DATABASE_URL: url}),
        b: () => measure(['psql', '-X', '-q', '-A', '-t', '-d', url, '-c', listQuery]),
      },
    ]

    console.log(
      `start-up benchmark: ${RUNS} interleaved pairs each, medians; ${os.cpus().length} cores, load ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    )
    console.log('')
    console.log(
      [
        'what',
        'wall ms',
        'base wall',
        'ratio',
        'cpu ms',
        'base cpu',
        'cpu ratio',
        'peak RSS MiB',
        'target',
      ].join('\t'),
    )
    let maxRss = 0
    for (const p of pairs) {
      const as: Sample[] = []
      const bs: Sample[] = []
      // One warm-up of each, not counted (file cache).
      p.a(-1)
      p.b(-1)
      for (let i = 0; i < RUNS; i++) {
        as.push(p.a(i))
        bs.push(p.b(i))
      }
      const wa = median(as.map((s) => s.wallMs))
      const wb = median(bs.map((s) => s.wallMs))
      const ca = median(as.map((s) => s.cpuMs))
      const cb = median(bs.map((s) => s.cpuMs))
      const rss = Math.max(...as.map((s) => s.rssKiB)) / 1024
      maxRss = Math.max(maxRss, rss)
      if (!Number.isNaN(p.target) && wa / wb > p.target) allMet = false
      console.log(
        [
          `${p.label} vs ${p.baseline}`,
          wa.toFixed(0),
          wb.toFixed(0),
          `${(wa / wb).toFixed(2)}x`,
          ca.toFixed(0),
          cb.toFixed(0),
          `${(ca / cb).toFixed(2)}x`,
          rss.toFixed(1),
          Number.isNaN(p.target) ? '-' : `<= ${p.target}x`,
        ].join('\t'),
      )
    }
    console.log('')
    console.log(`highest peak RSS of a command: ${maxRss.toFixed(1)} MiB (target <= 80 MiB)`)
    verdict(gate, allMet && maxRss <= 80)
  } finally {
    await admin.unsafe(`drop database if exists ${name} with (force)`)
    await admin.end()
  }
}

await main()
