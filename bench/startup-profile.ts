/**
 * Where `users create` spends its time, against bare Node + postgres.js doing
 * the same three inserts (bench/bare-create.mjs): each is run under
 * `node --cpu-prof` (BENCH_RUNS times, default 5, alternating) and every
 * sample's self time is put in one bucket:
 *
 * - the bundle's code by where it came from: dist/openmemory.cjs's source map
 *   names the package (node_modules/<name>) or our source folder (src/<dir>);
 * - bare-create.mjs's postgres.js by package the same way (its file paths);
 * - V8's own categories: idle (waiting on the database or the disk), garbage
 *   collection, (program);
 * - Node itself: its bootstrap and built-in modules (compiled on first use),
 *   reading the bundle (readFileSync) and deserialising the code cache
 *   (vm.Script).
 *
 * Prints milliseconds per run for both and the difference, largest first: what
 * is left between the CLI and the floor. Profiling slows everything down, so
 * these are shares, not the benchmark's figures (`npm run bench:startup`).
 *
 *   npm run build && npm run bench:startup-profile
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {SourceMap} from 'node:module'
import os from 'node:os'
import path from 'node:path'
import postgres from 'postgres'
import {BIN, loadGate, ROOT} from './measure.js'

const ADMIN = process.env.OPENMEMORY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 5))
const BUNDLE = path.join(ROOT, 'dist/openmemory.cjs')
const name = `om_bench_profile_${process.pid}`

interface ProfileNode {
  id: number
  callFrame: {functionName: string; url: string; lineNumber: number; columnNumber: number}
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

const map = new SourceMap(JSON.parse(readFileSync(`${BUNDLE}.map`, 'utf8')))

/** The package (or src/ folder) a source path belongs to. */
function origin(file: string): string {
  const inModules = file.lastIndexOf('node_modules/')
  if (inModules >= 0) {
    const parts = file.slice(inModules + 'node_modules/'.length).split('/')
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]
  }
  const src = file.indexOf('src/')
  if (src >= 0) {
    const parts = file.slice(src).split('/')
    return parts.length > 2 ? `src/${parts[1]}` : 'src'
  }
  return file
}

function bucket(frame: ProfileNode['callFrame']): string {
  const {functionName, url} = frame
  if (url === '') {
    if (functionName === '(idle)') return 'idle (database, disk)'
    if (functionName === '(garbage collector)') return 'garbage collection'
    if (functionName === '(program)') return '(program)'
    return `native ${functionName}`
  }
  if (url.endsWith('/openmemory.cjs')) {
    const entry = map.findEntry(frame.lineNumber, frame.columnNumber) as {originalSource?: string}
    return entry.originalSource ? origin(entry.originalSource) : 'bundle (unmapped)'
  }
  if (url.includes('node_modules/')) return origin(url)
  if (url === 'node:vm') return 'code cache (vm.Script)'
  if (url === 'node:fs' || functionName === 'readFileUtf8') return 'reading files'
  if (url.startsWith('node:') || !url.includes('/')) return 'Node internals'
  return path.relative(ROOT, url.replace(/^file:\/\//, ''))
}

function profileOnce(argv: string[], env: Record<string, string>): Map<string, number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'om-profile-'))
  try {
    const r = spawnSync(
      process.execPath,
      ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '100', ...argv],
      {env: {...process.env, ...env}, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8'},
    )
    if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`)
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!
    const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Profile
    const byId = new Map(profile.nodes.map((n) => [n.id, n]))
    const out = new Map<string, number>()
    profile.samples.forEach((id, i) => {
      const key = bucket(byId.get(id)!.callFrame)
      out.set(key, (out.get(key) ?? 0) + profile.timeDeltas[i] / 1000)
    })
    return out
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

async function main() {
  const gate = loadGate()
  gate.print()
  const admin = postgres(ADMIN, {max: 1, onnotice: () => {}})
  await admin.unsafe(`create database ${name}`)
  const u = new URL(ADMIN)
  u.pathname = `/${name}`
  const env = {DATABASE_URL: u.toString()}
  try {
    const setup = spawnSync(process.execPath, [BIN, 'db', 'migrate'], {env: {...process.env, ...env}})
    if (setup.status !== 0) throw new Error(`db migrate failed: ${setup.stderr}`)
    const cli = new Map<string, number>()
    const bare = new Map<string, number>()
    const add = (into: Map<string, number>, from: Map<string, number>) => {
      for (const [k, v] of from) into.set(k, (into.get(k) ?? 0) + v / RUNS)
    }
    for (let i = 0; i < RUNS; i++) {
      add(cli, profileOnce([BIN, 'users', 'create', `prof_a${i}`, '--json'], env))
      add(bare, profileOnce([path.join(ROOT, 'bench/bare-create.mjs'), `prof_b${i}`], env))
    }
    const keys = [...new Set([...cli.keys(), ...bare.keys()])]
    const rows = keys
      .map((k) => ({k, a: cli.get(k) ?? 0, b: bare.get(k) ?? 0}))
      .sort((x, y) => y.a - y.b - (x.a - x.b))
    const total = (m: Map<string, number>) => [...m.values()].reduce((s, v) => s + v, 0)
    console.log(`\nself time per run, ms (--cpu-prof, ${RUNS} runs each, profiled: slower than unprofiled)\n`)
    console.log(['where', 'users create', 'bare', 'difference'].join('\t'))
    for (const {k, a, b} of rows.filter((r) => Math.abs(r.a - r.b) >= 0.5 || r.a >= 2))
      console.log([k, a.toFixed(1), b.toFixed(1), (a - b).toFixed(1)].join('\t'))
    console.log(
      ['total', total(cli).toFixed(1), total(bare).toFixed(1), (total(cli) - total(bare)).toFixed(1)].join(
        '\t',
      ),
    )
    gate.print()
  } finally {
    await admin.unsafe(`drop database if exists ${name} with (force)`)
    await admin.end()
  }
}

await main()
