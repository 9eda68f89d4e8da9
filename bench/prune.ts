/**
 * Benchmark: `prune-inactive --mode delete --yes` against one hand-written SQL
 * transaction that deletes the same rows, on identical copies of the data, in
 * the same run.
 *
 *   npm run bench:prune                       # 100,000 users (30% inactive), 1,000,000 memories
 *   BENCH_USERS=20000 BENCH_MEMORIES=200000 npm run bench:prune
 *
 * Needs PostgreSQL on 127.0.0.1:5432 (OPENMEMORY_TEST_PG_URL overrides the
 * admin URL) and a built CLI (npm run build). Prints figures; exits 1 when a
 * target is missed (ratio <= 2, peak RSS < 200 MiB).
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import postgres from 'postgres'
import {loadGate, verdict} from './measure.js'

const ADMIN = process.env.OPENMEMORY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const USERS = Number(process.env.BENCH_USERS ?? 100_000)
const MEMORIES = Number(process.env.BENCH_MEMORIES ?? 1_000_000)
const INACTIVE_SHARE = 0.3
const DAYS = 90
const ROOT = path.resolve(import.meta.dirname, '..')
const tag = `${process.pid}`
const names = {template: `om_bench_tpl_${tag}`, sql: `om_bench_sql_${tag}`, cli: `om_bench_cli_${tag}`}

function urlFor(db: string): string {
  const u = new URL(ADMIN)
  u.pathname = `/${db}`
  return u.toString()
}

async function seed(url: string): Promise<void> {
  const sql = postgres(url, {max: 1, onnotice: () => {}})
  await sql.unsafe(readFileSync(path.resolve(ROOT, 'test/fixtures/openmemory-multiuser-schema.sql'), 'utf8'))
  const inactive = Math.round(USERS * INACTIVE_SHARE)
  // Users: the first `inactive` were last active 120-400 days ago, the rest within 60 days.
  await sql.unsafe(`
    insert into users (id, user_id, name, email, created_at, updated_at, last_active)
    select gen_random_uuid(), 'u' || g, 'User ' || g, 'u' || g || '@example.com',
           now() at time zone 'utc' - interval '500 days', now() at time zone 'utc' - interval '500 days',
           case when g <= ${inactive}
                then now() at time zone 'utc' - (120 + g % 280) * interval '1 day'
                else now() at time zone 'utc' - (g % 60) * interval '1 day' end
    from generate_series(1, ${USERS}) g`)
  await sql.unsafe(`
    insert into api_keys (id, user_id, key_hash, created_at, is_active)
    select gen_random_uuid(), id, encode(sha256(convert_to('mem_lab_' || user_id, 'utf8')), 'hex'), created_at, true from users`)
  await sql.unsafe(`
    insert into apps (id, owner_id, name, is_active, created_at, updated_at)
    select gen_random_uuid(), id, 'default', true, created_at, created_at from users`)
  await sql.unsafe(`
    insert into categories (id, name, created_at)
    select gen_random_uuid(), 'category_' || g, now() at time zone 'utc' from generate_series(1, 20) g`)
  // Memories spread over the users (round robin), each linked to one category.
  await sql.unsafe(`
    insert into memories (id, user_id, app_id, content, state, created_at, updated_at)
    select gen_random_uuid(), a.owner_id, a.id, 'memory ' || g,
           (array['active','active','active','archived','deleted'])[1 + g % 5]::memorystate,
           now() at time zone 'utc', now() at time zone 'utc'
    from generate_series(1, ${MEMORIES}) g
    join (select id, owner_id, row_number() over (order by id) - 1 as n from apps) a on a.n = g % ${USERS}`)
  await sql.unsafe(`
    insert into memory_categories (memory_id, category_id, assigned_at)
    select m.id, c.id, now() at time zone 'utc'
    from (select id, row_number() over () % 20 as k from memories) m
    join (select id, row_number() over (order by id) - 1 as k from categories) c on c.k = m.k`)
  await sql.unsafe('analyze')
  await sql.end()
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now()
  const r = await fn()
  return [r, performance.now() - t]
}

async function baseline(url: string): Promise<void> {
  const sql = postgres(url, {max: 1, onnotice: () => {}})
  await sql.begin(async (tx) => {
    await tx.unsafe(`create temp table doomed on commit drop as
      select id from users where coalesce(last_active, created_at) < now() at time zone 'utc' - interval '${DAYS} days'`)
    await tx.unsafe(
      'delete from memory_categories mc using memories m, doomed d where mc.memory_id = m.id and m.user_id = d.id',
    )
    await tx.unsafe('delete from memories m using doomed d where m.user_id = d.id')
    await tx.unsafe('delete from apps a using doomed d where a.owner_id = d.id')
    await tx.unsafe('delete from api_keys k using doomed d where k.user_id = d.id')
    await tx.unsafe('delete from users u using doomed d where u.id = d.id')
  })
  await sql.end()
}

function cli(url: string): Promise<{code: number | null; rssKiB: number; stdout: string; stderr: string}> {
  const rssFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'om-bench-')), 'rss')
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, 'bin/run.js'),
        'prune-inactive',
        '--mode',
        'delete',
        '--days',
        String(DAYS),
        '--yes',
        '--json',
      ],
      {
        env: {
          ...process.env,
          OPENMEMORY_DATABASE_URL: url,
          OPENMEMORY_BENCH_RSS_FILE: rssFile,
          NODE_OPTIONS: `--import ${path.join(ROOT, 'bench/report-rss.mjs')}`,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.on('error', reject)
    child.on('close', (code) =>
      resolve({code, rssKiB: Number(readFileSync(rssFile, 'utf8')), stdout, stderr}),
    )
  })
}

async function counts(url: string) {
  const sql = postgres(url, {max: 1})
  const [r] =
    await sql`select (select count(*) from users)::int as users, (select count(*) from memories)::int as memories,
    (select count(*) from memory_categories)::int as links, (select count(*) from apps)::int as apps,
    (select count(*) from api_keys)::int as keys`
  await sql.end()
  return r
}

async function main() {
  const gate = loadGate()
  gate.print()
  const admin = postgres(ADMIN, {max: 1, onnotice: () => {}})
  try {
    console.log(`Seeding ${USERS} users (${INACTIVE_SHARE * 100}% inactive) and ${MEMORIES} memories...`)
    await admin.unsafe(`create database ${names.template}`)
    const [, seedMs] = await timed(() => seed(urlFor(names.template)))
    console.log(`  seeded in ${(seedMs / 1000).toFixed(1)} s`)
    await admin.unsafe(`create database ${names.sql} template ${names.template}`)
    await admin.unsafe(`create database ${names.cli} template ${names.template}`)
    // The CLI needs its migration (adopting the server's schema adds only its own tables).
    const migrate = spawn(
      process.execPath,
      [path.join(ROOT, 'bin/run.js'), 'db', 'migrate', '--database-url', urlFor(names.cli)],
      {
        stdio: 'ignore',
      },
    )
    await new Promise((r) => migrate.on('close', r))
    if (process.env.BENCH_LOG_MS) {
      // Log the CLI's slow statements in the server log, for profiling.
      await admin.unsafe(
        `alter database ${names.cli} set log_min_duration_statement = ${Number(process.env.BENCH_LOG_MS)}`,
      )
    }
    const before = await counts(urlFor(names.sql))

    const [, sqlMs] = await timed(() => baseline(urlFor(names.sql)))
    const [run, cliMs] = await timed(() => cli(urlFor(names.cli)))
    if (run.code !== 0) throw new Error(`CLI exited ${run.code}: ${run.stderr}`)
    const afterSql = await counts(urlFor(names.sql))
    const afterCli = await counts(urlFor(names.cli))
    const same = JSON.stringify(afterSql) === JSON.stringify(afterCli)
    const ratio = cliMs / sqlMs
    const rssMiB = run.rssKiB / 1024
    const summary = JSON.parse(run.stdout)
    console.log(`Before:            ${JSON.stringify(before)}`)
    console.log(`After (SQL):       ${JSON.stringify(afterSql)}`)
    console.log(`After (CLI):       ${JSON.stringify(afterCli)}  ${same ? 'identical' : 'DIFFERENT'}`)
    console.log(`Users deleted:     ${summary.changedCount} (matched ${summary.matchedCount})`)
    console.log(`SQL transaction:   ${(sqlMs / 1000).toFixed(2)} s`)
    console.log(`prune-inactive:    ${(cliMs / 1000).toFixed(2)} s (including Node start-up)`)
    console.log(`Ratio CLI/SQL:     ${ratio.toFixed(2)} (target <= 2)`)
    console.log(`CLI peak RSS:      ${rssMiB.toFixed(1)} MiB (target < 200)`)
    verdict(gate, same && ratio <= 2 && rssMiB < 200)
  } finally {
    if (!process.env.BENCH_KEEP) {
      for (const n of Object.values(names)) await admin.unsafe(`drop database if exists ${n} with (force)`)
    }
    await admin.end()
  }
}

await main()
