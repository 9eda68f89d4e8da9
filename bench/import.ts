/**
 * Benchmark: `users import` of 1,000 users against creating them one by one,
 * in the same run, on PostgreSQL.
 *
 *   npm run bench:import                      # 1,000 users, a sample of 50 one-by-one creates
 *   BENCH_USERS=5000 BENCH_SAMPLE=100 npm run bench:import
 *
 * Three figures, each on a fresh database adopted from the server's schema:
 *  1. `openmemory users import team.csv --keys-out FILE` as a process (what the
 *     operator runs), wall time including Node's start-up;
 *  2. `openmemory users create` as one process per user: a sample of
 *     BENCH_SAMPLE users, timed, and extrapolated to BENCH_USERS (stated);
 *  3. the createUser service called BENCH_USERS times in one process (the
 *     per-user database cost without start-up), for reference.
 *
 * Then memory (issue 22, point 8): `users import FILE --keys-out FILE` of 1,000
 * and of BENCH_RSS_ROWS (100,000) rows, each into a fresh database, on
 * PostgreSQL and on the embedded database, measured as bench/measure.ts does:
 * the CLI's own peak RSS (getrusage maxRSS, exact) and the peak summed PSS of
 * its process tree (the embedded server included). BENCH_RSS=0 skips it.
 *
 * Needs PostgreSQL on 127.0.0.1:5432 (OPENMEMORY_TEST_PG_URL overrides the
 * admin URL) and a built CLI (npm run build). Exits 1 when a target is missed:
 * the import of 1,000 users takes more than 3 s; the CLI's peak RSS at
 * 100,000 rows is more than 50 MiB above the 1,000-row run's on either
 * database, or above 150 MiB on PostgreSQL.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import postgres from 'postgres'
import {openDatabase} from '../src/db/client.js'
import {defaultContext} from '../src/services/context.js'
import {createUser} from '../src/services/users.js'
import {loadGate, type Measured, mark, measure, quiet, verdict} from './measure.js'

const ADMIN = process.env.OPENMEMORY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const USERS = Number(process.env.BENCH_USERS ?? 1000)
const SAMPLE = Math.min(USERS, Number(process.env.BENCH_SAMPLE ?? 50))
const TARGET_MS = 3000 * (USERS / 1000)
const RSS_ROWS = Number(process.env.BENCH_RSS_ROWS ?? 100_000)
const RSS_ON = process.env.BENCH_RSS !== '0'
const RSS_TARGET = {growthMiB: 50, postgresMiB: 150}
const ROOT = path.resolve(import.meta.dirname, '..')
const BIN = path.join(ROOT, 'bin/run.js')
const tag = `${process.pid}`
const names = ['import', 'create', 'service', 'rss_small', 'rss_large'].map((n) => `om_bench_${n}_${tag}`)

function teamCsv(file: string, n: number): string {
  const rows = ['userId,name,email']
  for (let i = 1; i <= n; i++) rows.push(`member${i},Member ${i},member${i}@example.com`)
  writeFileSync(file, `${rows.join('\n')}\n`)
  return file
}

/** One measured import into a fresh database (`env` picks it); throws unless it exits 0. */
async function measuredImport(csv: string, keys: string, env: Record<string, string | undefined>) {
  const r = await measure(['users', 'import', csv, '--keys-out', keys], {...env, OPENMEMORY_NO_PROMPT: '1'})
  if (r.code !== 0) throw new Error(`users import exited ${r.code}: ${r.stderr.slice(0, 2000)}`)
  return r
}

/**
 * Peak memory of `users import` at 1,000 and at RSS_ROWS rows, on PostgreSQL
 * (two fresh databases) and on the embedded database (two fresh data
 * directories, created by `db migrate` before the measured import).
 */
async function memory(dir: string, q: boolean): Promise<boolean> {
  const noUrl = {OPENMEMORY_DATABASE_URL: undefined, DATABASE_URL: undefined}
  const small = teamCsv(path.join(dir, 'rss-small.csv'), 1000)
  const large = teamCsv(path.join(dir, 'rss-large.csv'), RSS_ROWS)
  const targets: Record<string, {env: Record<string, string | undefined>}[]> = {
    PostgreSQL: [names[3], names[4]].map((db) => ({env: {...noUrl, OPENMEMORY_DATABASE_URL: urlFor(db)}})),
    embedded: ['small', 'large'].map((n) => ({
      env: {...noUrl, OPENMEMORY_DATA_DIR: path.join(dir, `data-${n}`)},
    })),
  }
  const mb = (m: Measured) =>
    `${(m.ms / 1000).toFixed(2)} s, CLI peak RSS ${m.rssMiB.toFixed(0)} MiB, process tree ${m.pssMiB.toFixed(0)} MiB PSS (${m.processes} proc)`
  let met = true
  console.log(`Memory of users import --keys-out, 1,000 vs ${RSS_ROWS.toLocaleString('en')} rows:`)
  for (const [engine, [a, b]] of Object.entries(targets)) {
    if (engine === 'embedded') {
      for (const t of [a, b]) {
        const r = await measure(['db', 'migrate'], t.env)
        if (r.code !== 0) throw new Error(`db migrate exited ${r.code}: ${r.stderr.slice(0, 2000)}`)
      }
    }
    const one = await measuredImport(small, path.join(dir, `rss-${engine}-small.csv`), a.env)
    const big = await measuredImport(large, path.join(dir, `rss-${engine}-large.csv`), b.env)
    const growth = big.rssMiB - one.rssMiB
    const growthOk = growth <= RSS_TARGET.growthMiB
    console.log(`  ${engine}, 1,000 rows:   ${mb(one)}`)
    console.log(`  ${engine}, ${RSS_ROWS.toLocaleString('en')} rows: ${mb(big)}`)
    console.log(
      `  ${engine}: ${RSS_ROWS.toLocaleString('en')} rows' peak RSS is ${growth.toFixed(0)} MiB above 1,000 rows' (target <= ${RSS_TARGET.growthMiB}): ${mark(growthOk, q)}`,
    )
    met &&= growthOk
    if (engine === 'PostgreSQL') {
      const capOk = big.rssMiB <= RSS_TARGET.postgresMiB
      console.log(
        `  PostgreSQL: ${RSS_ROWS.toLocaleString('en')} rows' peak RSS ${big.rssMiB.toFixed(0)} MiB (target <= ${RSS_TARGET.postgresMiB}): ${mark(capOk, q)}`,
      )
      met &&= capOk
    }
  }
  return met
}

function urlFor(db: string): string {
  const u = new URL(ADMIN)
  u.pathname = `/${db}`
  return u.toString()
}

function run(argv: string[]): Promise<{ms: number; code: number | null; stderr: string}> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, [BIN, ...argv], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {...process.env, OPENMEMORY_NO_PROMPT: '1'},
    })
    let stderr = ''
    child.stderr.on('data', (d) => {
      stderr += d
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ms: performance.now() - started, code, stderr})
    })
  })
}

async function must(argv: string[]) {
  const r = await run(argv)
  if (r.code !== 0) throw new Error(`openmemory ${argv.slice(0, 2).join(' ')} exited ${r.code}: ${r.stderr}`)
  return r
}

async function main() {
  const gate = loadGate()
  gate.print()
  const admin = postgres(ADMIN, {max: 1, onnotice: () => {}})
  const dir = mkdtempSync(path.join(os.tmpdir(), 'om-bench-import-'))
  const schema = readFileSync(path.join(ROOT, 'test/fixtures/openmemory-multiuser-schema.sql'), 'utf8')
  try {
    for (const db of names) {
      await admin.unsafe(`create database ${db}`)
      const c = postgres(urlFor(db), {max: 1, onnotice: () => {}})
      await c.unsafe(schema)
      await c.end()
      await must(['db', 'migrate', '--database-url', urlFor(db)])
    }
    const csv = teamCsv(path.join(dir, 'team.csv'), USERS)

    // 1. The import, as the operator runs it.
    const imported = await must([
      'users',
      'import',
      csv,
      '--keys-out',
      path.join(dir, 'keys.csv'),
      '--database-url',
      urlFor(names[0]),
    ])

    // 2. One process per user, on a sample.
    let createMs = 0
    for (let i = 1; i <= SAMPLE; i++) {
      const r = await must([
        'users',
        'create',
        `member${i}`,
        `Member ${i}`,
        `member${i}@example.com`,
        '--key-file',
        path.join(dir, `member${i}.key`),
        '--database-url',
        urlFor(names[1]),
      ])
      createMs += r.ms
    }
    const perCreate = createMs / SAMPLE
    const createExtrapolated = perCreate * USERS

    // 3. The service, in one process.
    const database = await openDatabase(
      {kind: 'postgres', url: urlFor(names[2]), source: '--database-url', display: names[2]},
      {},
    )
    const ctx = defaultContext('bench')
    const t0 = performance.now()
    for (let i = 1; i <= USERS; i++) {
      await createUser(
        database.db,
        {userId: `member${i}`, name: `Member ${i}`, email: `member${i}@example.com`},
        ctx,
      )
    }
    const serviceMs = performance.now() - t0
    await database.close()

    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`
    console.log(`Users:                                  ${USERS}`)
    console.log(`users import (one process):             ${s(imported.ms)}`)
    console.log(
      `users create, one process per user:     ${s(createExtrapolated)} (extrapolated from ${SAMPLE} runs, ${perCreate.toFixed(0)} ms each)`,
    )
    console.log(`createUser service x${USERS}, one process: ${s(serviceMs)}`)
    console.log(`Ratio one-by-one processes / import:    ${(createExtrapolated / imported.ms).toFixed(1)}x`)
    console.log(`Ratio one-by-one service / import:      ${(serviceMs / imported.ms).toFixed(1)}x`)
    console.log(
      `Import target:                          <= ${s(TARGET_MS)}: ${mark(imported.ms <= TARGET_MS, quiet(gate))}`,
    )
    const memoryMet = RSS_ON ? await memory(dir, quiet(gate)) : true
    verdict(gate, imported.ms <= TARGET_MS && memoryMet)
  } finally {
    for (const db of names) await admin.unsafe(`drop database if exists ${db} with (force)`).catch(() => {})
    await admin.end()
    rmSync(dir, {recursive: true, force: true})
  }
}

await main()
