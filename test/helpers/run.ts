/**
 * The two ways a test runs the CLI: `runCommand`, the command class on the
 * TypeScript source in this process (as oclif's own tests do), for every test
 * that is not about the process; and `runBin`, the one child-process runner,
 * for the tests that are (the built bin/run.js, stdin, signals, pipes).
 */
import {spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {captureOutput} from '@oclif/test'

export const ROOT = path.resolve(import.meta.dirname, '../..')
/**
 * The built CLI that end-to-end tests run: the run's private build
 * (global-setup.ts), never the checkout's own dist/.
 */
export const CLI_ROOT = process.env.OPENMEMORY_TEST_CLI_ROOT ?? ROOT
export const BIN = path.join(CLI_ROOT, 'bin/run.js')

/** How long a child process may run before it counts as hung (a bound, not a speed target). */
export const HANG_MS = Number(process.env.OPENMEMORY_TEST_HANG_MS) || 300_000

export interface RunResult<T = unknown> {
  stdout: string
  stderr: string
  exitCode: number
  result?: T
}

export async function runCommand<T = unknown>(
  cmd: {run(argv?: string[], opts?: string): Promise<unknown>},
  argv: string[],
  env: Record<string, string | undefined> = {},
): Promise<RunResult<T>> {
  const saved: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries({OPENMEMORY_NO_PROMPT: '1', ...env})) {
    saved[k] = process.env[k]
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
  try {
    // oclif's config (bin name, topics, the command list) comes from the run's private build:
    // the checkout itself may have no dist/ at all.
    const out = await captureOutput<T>(async () => (await cmd.run(argv, CLI_ROOT)) as T, {stripAnsi: false})
    const error = out.error as (Error & {oclif?: {exit?: number}}) | undefined
    return {
      stdout: out.stdout,
      stderr: out.stderr,
      result: out.result,
      exitCode: error ? (error.oclif?.exit ?? 1) : 0,
    }
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

export interface BinOptions {
  env?: Record<string, string | undefined>
  input?: string
  cwd?: string
  /** Counted as hung after this long: SIGKILL (default HANG_MS). */
  timeoutMs?: number
  /** SIGKILL after this many milliseconds. */
  killAfterMs?: number
  /** Send `killSignal` (default SIGKILL) once this resolves true (e.g. the process was seen in a transaction). */
  killWhen?: (pid: number) => Promise<boolean>
  killSignal?: NodeJS.Signals
  /** Read this many lines of stdout, then close the pipe, as `| head -n N` does. */
  headLines?: number
  /**
   * Stop the process at a named point (OPENMEMORY_STOP_AT, src/stop-point.ts), run `meanwhile`
   * while it is stopped, send the signal it returns (if any), then SIGCONT.
   */
  stopAt?: {
    point: 'staged' | 'in-transaction' | 'committed'
    meanwhile: (pid: number) => Promise<NodeJS.Signals | null>
  }
}

/** Resolves once the process is stopped (state T), false if it ended first. */
export async function stopped(pid: number, timeoutMs = 120_000): Promise<boolean> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    let status: string
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8')
    } catch {
      return false
    }
    if (/^State:\s+T/m.test(status)) return true
    await new Promise((r) => setTimeout(r, 20))
  }
  return false
}

export interface BinResult {
  stdout: string
  stderr: string
  exitCode: number | null
  signal: NodeJS.Signals | null
  /** We sent a kill signal (killAfterMs, killWhen) and the process died of it. */
  killed: boolean
  ms: number
}

/**
 * Run the built CLI as a user would: a child process, no terminal. The one
 * runner of the suite: end-to-end tests, the reliability suite (kills at a
 * chosen moment) and readers that go away early all use it.
 */
export function runBin(argv: string[], opts: BinOptions = {}): Promise<BinResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {}
    const stopEnv = opts.stopAt ? {OPENMEMORY_STOP_AT: opts.stopAt.point} : {}
    for (const [k, v] of Object.entries({...process.env, ...opts.env, ...stopEnv}))
      if (v !== undefined) env[k] = v
    const started = Date.now()
    const child = spawn(process.execPath, [BIN, ...argv], {
      env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    let done = false
    let sent: NodeJS.Signals | undefined
    child.stdout.on('data', (d) => {
      stdout += d
      if (opts.headLines !== undefined && (stdout.match(/\n/g)?.length ?? 0) >= opts.headLines) {
        stdout = `${stdout.split('\n').slice(0, opts.headLines).join('\n')}\n`
        child.stdout.destroy()
      }
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    const kill = (signal: NodeJS.Signals = 'SIGKILL') => {
      if (done) return
      sent = signal
      child.kill(signal)
    }
    const killTimer = opts.killAfterMs === undefined ? undefined : setTimeout(kill, opts.killAfterMs)
    const hardTimer = setTimeout(kill, opts.timeoutMs ?? HANG_MS)
    if (opts.killWhen && child.pid !== undefined) {
      opts.killWhen(child.pid).then(
        (yes) => yes && kill(opts.killSignal),
        () => {},
      )
    }
    if (opts.stopAt && child.pid !== undefined) {
      const {pid} = child
      const at = opts.stopAt
      stopped(pid).then(async (yes) => {
        if (!yes || done) return
        const signal = await at.meanwhile(pid)
        if (signal && !done) kill(signal)
        if (!done) process.kill(pid, 'SIGCONT')
      }, reject)
    }
    child.on('error', reject)
    child.on('close', (exitCode, signal) => {
      done = true
      clearTimeout(killTimer)
      clearTimeout(hardTimer)
      resolve({
        stdout,
        stderr,
        exitCode,
        signal,
        killed: sent !== undefined && signal === sent,
        ms: Date.now() - started,
      })
    })
    // A process killed (or done) before reading stdin must not fail the test with EPIPE.
    child.stdin.on('error', () => {})
    child.stdin.end(opts.input ?? '')
  })
}
