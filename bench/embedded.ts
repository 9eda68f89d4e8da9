/**
 * Benchmark: the embedded database (PGlite) against PostgreSQL, same command,
 * same run.
 *
 *   npm run build && npm run bench:embedded          # BENCH_RUNS=7 by default
 *
 * Prints:
 * - first run: `users list --json` on a new data directory (initdb + migrations);
 * - warm `users list --json` on the embedded database vs the same command on
 *   PostgreSQL (127.0.0.1:5432; OPENMEMORY_TEST_PG_URL overrides the admin URL):
 *   median wall time of BENCH_RUNS runs each, and their ratio;
 * - peak RSS of the warm embedded command (the child's own maxRSS).
 * Exits 1 when a target is missed: ratio <= 1.8, peak RSS <= 200 MiB, first run <= 4 s.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import postgres from 'postgres'

const ADMIN = process.env.OPENMEMORY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const RUNS = Number(process.env.BENCH_RUNS ?? 7)
const ROOT = path.resolve(import.meta.dirname, '..')
const TARGET = {ratio: 1.8, rssMiB: 200, firstRunS: 4}

interface Run {
  code: number | null
  ms: number
  rssKiB: number
  stderr: string
}

/** Run the built CLI as a user does, timing it from spawn to exit and reading its peak RSS. */
function cli(argv: string[], env: Record<string, string | undefined>): Promise<Run> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'om-bench-'))
  const rssFile = path.join(tmp, 'rss')
  const childEnv: Record<string, string> = {}
  for (const [k, v] of Object.entries({
    ...process.env,
    ...env,
    OPENMEMORY_BENCH_RSS_FILE: rssFile,
    NODE_OPTIONS: `--import ${path.join(ROOT, 'bench/report-rss.mjs')}`,
  }))
    if (v !== undefined) childEnv[k] = v
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/run.js'), ...argv], {
      env: childEnv,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.on('error', reject)
    child.on('close', (code) => {
      const ms = performance.now() - started
      let rssKiB = Number.NaN
      try {
        rssKiB = Number(readFileSync(rssFile, 'utf8'))
      } catch {}
      rmSync(tmp, {recursive: true, force: true})
      resolve({code, ms, rssKiB, stderr})
    })
  })
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

async function ok(argv: string[], env: Record<string, string | undefined>): Promise<Run> {
  const r = await cli(argv, env)
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'om-bench-embedded-'))
  const dbName = `om_bench_embedded_${process.pid}`
  const admin = postgres(ADMIN, {max: 1, onnotice: () => {}})
  const url = new URL(ADMIN)
  url.pathname = `/${dbName}`
  const noUrl = {OPENMEMORY_DATABASE_URL: undefined, DATABASE_URL: undefined}
  const embedded = {...noUrl, OPENMEMORY_DATA_DIR: path.join(dir, 'pgdata')}
  const server = {...noUrl, OPENMEMORY_DATABASE_URL: url.toString()}
  try {
    await admin.unsafe(`create database ${dbName}`)
    await ok(['db', 'migrate', '--json'], server)
    const first = await ok(['users', 'list', '--json'], embedded)

    // Interleave the two series so that load on the machine hits both alike.
    const warmEmbedded: Run[] = []
    const warmPostgres: Run[] = []
    for (let i = 0; i < RUNS; i++) {
      warmEmbedded.push(await ok(['users', 'list', '--json'], embedded))
      warmPostgres.push(await ok(['users', 'list', '--json'], server))
    }
    const e = median(warmEmbedded.map((r) => r.ms))
    const p = median(warmPostgres.map((r) => r.ms))
    const rssMiB = Math.max(...warmEmbedded.map((r) => r.rssKiB)) / 1024
    const rssPgMiB = Math.max(...warmPostgres.map((r) => r.rssKiB)) / 1024
    const ratio = e / p
    const met = {
      ratio: ratio <= TARGET.ratio,
      rss: rssMiB <= TARGET.rssMiB,
      first: first.ms / 1000 <= TARGET.firstRunS,
    }
    const mark = (b: boolean) => (b ? 'ok' : 'MISSED')
    console.log(
      `openmemory embedded benchmark (${RUNS} warm runs each, median; ${os.cpus().length} cores, load ${os.loadavg()[0]?.toFixed(1)})`,
    )
    console.log(
      `  first run (initdb + migrations), users list --json: ${(first.ms / 1000).toFixed(2)} s  [target <= ${TARGET.firstRunS} s: ${mark(met.first)}]  peak RSS ${(first.rssKiB / 1024).toFixed(0)} MiB`,
    )
    console.log(`  warm users list --json, embedded PGlite:   ${(e / 1000).toFixed(2)} s`)
    console.log(
      `  warm users list --json, PostgreSQL:        ${(p / 1000).toFixed(2)} s  (peak RSS ${rssPgMiB.toFixed(0)} MiB)`,
    )
    console.log(
      `  ratio embedded / PostgreSQL:               ${ratio.toFixed(2)}x  [target <= ${TARGET.ratio}x: ${mark(met.ratio)}]`,
    )
    console.log(
      `  peak RSS, warm embedded:                   ${rssMiB.toFixed(0)} MiB  [target <= ${TARGET.rssMiB} MiB: ${mark(met.rss)}]`,
    )
    if (!met.ratio || !met.rss || !met.first) process.exitCode = 1
  } finally {
    await admin.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {})
    await admin.end()
    rmSync(dir, {recursive: true, force: true})
  }
}

await main()
