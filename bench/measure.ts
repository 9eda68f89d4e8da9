/**
 * What every benchmark measures with: the load gate and a command's wall time
 * and peak memory, counted over the command and every process it starts.
 *
 * - `loadGate()`: the 1-minute load average at the start; `gateVerdict()` at
 *   the end; `quiet()` refuses to call a target met when the machine was not
 *   quiet at the start (load above 1.5); the figures are still printed.
 * - `measure(argv, env)`: spawns the built CLI as a user runs it and, every
 *   10 ms until it exits, sums the proportional set size (PSS, from
 *   `/proc/PID/smaps_rollup`: shared pages counted once across the processes)
 *   of the CLI and all its descendants (an embedded PostgreSQL server and its
 *   backends included). The peak of those sums is the figure. The CLI's own
 *   maxRSS (getrusage, exact) is reported beside it as a cross-check.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export const ROOT = path.resolve(import.meta.dirname, '..')
export const BIN = path.join(ROOT, 'bin/run.js')
export const QUIET_LOAD = 1.5

export interface Measured {
  code: number | null
  ms: number
  /** Peak of the summed PSS of the command's process tree, MiB. */
  pssMiB: number
  /** The CLI process's own peak RSS, MiB. */
  rssMiB: number
  /** Most processes seen at once in the tree. */
  processes: number
  stdout: string
  stderr: string
}

export function load1(): number {
  return os.loadavg()[0] ?? 0
}

export function loadGate(): {start: number; print(): void} {
  const start = load1()
  return {
    start,
    print() {
      console.log(
        `load average (1 min): ${start.toFixed(2)} at start, ${load1().toFixed(2)} now (quiet means <= ${QUIET_LOAD})`,
      )
    },
  }
}

/**
 * Whether targets may be reported as met: the machine was quiet (1-minute load
 * at or under 1.5) when the benchmark started. The end reading is printed too;
 * on two cores a benchmark's own server work raises it.
 */
export function quiet(gate: {start: number}): boolean {
  return gate.start <= QUIET_LOAD
}

function childrenOf(pid: number): number[] {
  // /proc/PID/task/TID/children lists the children each thread forked.
  const out: number[] = []
  let tasks: string[]
  try {
    tasks = readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) {
        if (c.trim()) out.push(Number(c))
      }
    } catch {}
  }
  return out
}

function treePss(root: number): {kib: number; n: number} {
  let kib = 0
  let n = 0
  const stack = [root]
  while (stack.length > 0) {
    const pid = stack.pop() as number
    try {
      const m = /^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))
      if (m) {
        kib += Number(m[1])
        n++
      }
    } catch {
      continue
    }
    stack.push(...childrenOf(pid))
  }
  return {kib, n}
}

/** Run the built CLI with `env` added to this process's environment; time it and sample its memory. */
export function measure(
  argv: string[],
  env: Record<string, string | undefined>,
  opts: {stdin?: string; sampleMs?: number} = {},
): Promise<Measured> {
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
    const child = spawn(process.execPath, [BIN, ...argv], {
      env: childEnv,
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    })
    if (opts.stdin !== undefined) child.stdin?.end(opts.stdin)
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (d) => {
      if (stdout.length < 1 << 20) stdout += d
    })
    child.stderr?.on('data', (d) => {
      if (stderr.length < 1 << 20) stderr += d
    })
    let peak = 0
    let processes = 0
    const sample = () => {
      if (child.pid === undefined) return
      const {kib, n} = treePss(child.pid)
      if (kib > peak) peak = kib
      if (n > processes) processes = n
    }
    const timer = setInterval(sample, opts.sampleMs ?? 10)
    child.on('error', (error) => {
      clearInterval(timer)
      reject(error)
    })
    child.on('close', (code) => {
      clearInterval(timer)
      const ms = performance.now() - started
      let rssKiB = Number.NaN
      try {
        rssKiB = Number(readFileSync(rssFile, 'utf8'))
      } catch {}
      rmSync(tmp, {recursive: true, force: true})
      resolve({code, ms, pssMiB: peak / 1024, rssMiB: rssKiB / 1024, processes, stdout, stderr})
    })
  })
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

export const mark = (met: boolean, isQuiet: boolean): string =>
  met ? (isQuiet ? 'met' : 'met (NOT CLAIMED: machine not quiet)') : 'MISSED'

/**
 * The closing verdict every benchmark prints: a target is claimed met only
 * when the machine was quiet at the start; a miss sets exit code 1.
 */
export function verdict(gate: {start: number; print(): void}, met: boolean): void {
  gate.print()
  if (!met) {
    console.log('verdict: a target was MISSED')
    process.exitCode = 1
  } else if (!quiet(gate)) {
    console.log(
      `verdict: targets met, NOT CLAIMED: the 1-minute load average was ${gate.start.toFixed(2)} at the start (quiet means <= ${QUIET_LOAD})`,
    )
  } else console.log('verdict: every target met on a quiet machine')
}
