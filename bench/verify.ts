/**
 * Benchmark: `db verify` on a large database (default 100,000 users and
 * 1,000,000 memories, with a few planted defects), run through the built CLI.
 *
 *   npx tsx bench/verify.ts
 *   BENCH_USERS=20000 BENCH_MEMORIES=200000 npx tsx bench/verify.ts
 *
 * Needs PostgreSQL on 127.0.0.1:5432 (OPENMEMORY_TEST_PG_URL overrides the
 * admin URL) and a built CLI (npm run build). Prints figures; exits 1 when the
 * audit takes longer than BENCH_VERIFY_MAX_SECONDS (default 15) or misses a
 * planted defect.
 */
import {spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import path from 'node:path'
import postgres from 'postgres'
import {loadGate, verdict} from './measure.js'

const ADMIN = process.env.OPENMEMORY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const USERS = Number(process.env.BENCH_USERS ?? 100_000)
const MEMORIES = Number(process.env.BENCH_MEMORIES ?? 1_000_000)
const MAX_SECONDS = Number(process.env.BENCH_VERIFY_MAX_SECONDS ?? 15)
const ROOT = path.resolve(import.meta.dirname, '..')
const name = `om_bench_verify_${process.pid}`

function urlFor(db: string): string {
  const u = new URL(ADMIN)
  u.pathname = `/${db}`
  return u.toString()
}

async function seed(url: string): Promise<void> {
  const sql = postgres(url, {max: 1, onnotice: () => {}})
  await sql.unsafe(readFileSync(path.resolve(ROOT, 'test/fixtures/openmemory-multiuser-schema.sql'), 'utf8'))
  await sql.unsafe(`
    insert into users (id, user_id, name, created_at, updated_at, last_active)
    select gen_random_uuid(), 'u' || g, 'User ' || g, now(), now(), now() from generate_series(1, ${USERS}) g`)
  await sql.unsafe(`
    insert into api_keys (id, user_id, key_hash, created_at, is_active)
    select gen_random_uuid(), id, encode(sha256(convert_to('mem_lab_' || user_id, 'utf8')), 'hex'), created_at, true from users`)
  await sql.unsafe(`
    insert into apps (id, owner_id, name, is_active, created_at, updated_at)
    select gen_random_uuid(), id, 'default', true, created_at, created_at from users`)
  await sql.unsafe(`
    insert into memories (id, user_id, app_id, content, state, created_at, updated_at, archived_at, deleted_at)
    select gen_random_uuid(), a.owner_id, a.id, 'memory ' || g, s.state::memorystate, now(), now(),
           case when s.state = 'archived' then now() end, case when s.state = 'deleted' then now() end
    from generate_series(1, ${MEMORIES}) g
    join (select id, owner_id, row_number() over (order by id) - 1 as n from apps) a on a.n = g % ${USERS}
    cross join lateral (select (array['active','active','active','archived','deleted'])[1 + g % 5] as state) s`)
  // Planted defects: 3 cross-user memories, 2 deleted without deleted_at, 1 user without a key.
  await sql.unsafe(`
    update memories set app_id = (select id from apps where owner_id = (select id from users where user_id = 'u1'))
    where id in (select id from memories where user_id <> (select id from users where user_id = 'u1') limit 3)`)
  await sql.unsafe(`
    update memories set deleted_at = null where id in (select id from memories where state = 'deleted' limit 2)`)
  await sql.unsafe(`delete from api_keys where user_id = (select id from users where user_id = 'u2')`)
  await sql.unsafe('analyze')
  await sql.end()
}

function runCli(argv: string[], env: Record<string, string>): Promise<{stdout: string; code: number | null}> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/run.js'), ...argv], {
      env: {...process.env, ...env},
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let stdout = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({stdout, code}))
  })
}

const gate = loadGate()
gate.print()
const admin = postgres(ADMIN, {max: 1, onnotice: () => {}})
await admin.unsafe(`create database ${name}`)
try {
  const url = urlFor(name)
  let t = performance.now()
  await seed(url)
  console.log(
    `seeded ${USERS} users, ${MEMORIES} memories in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  )
  await runCli(['db', 'migrate'], {DATABASE_URL: url})
  t = performance.now()
  const r = await runCli(['db', 'verify', '--json'], {DATABASE_URL: url})
  const seconds = (performance.now() - t) / 1000
  const out = JSON.parse(r.stdout) as {checks: {id: string; count: number}[]}
  const found = Object.fromEntries(out.checks.filter((c) => c.count > 0).map((c) => [c.id, c.count]))
  console.log(
    `db verify: ${seconds.toFixed(2)} s (whole process), exit ${r.code}, found ${JSON.stringify(found)}`,
  )
  const expected = {
    'memories-app-of-other-user': 3,
    'users-without-key': 1,
    'memories-deleted-without-deleted-at': 2,
  }
  const ok = r.code === 1 && JSON.stringify(found) === JSON.stringify(expected) && seconds <= MAX_SECONDS
  console.log(ok ? 'PASS' : `FAIL (expected ${JSON.stringify(expected)} within ${MAX_SECONDS} s)`)
  verdict(gate, ok)
} finally {
  await admin.unsafe(`drop database if exists ${name} with (force)`)
  await admin.end()
}
