/**
 * Run a command class on the TypeScript source, as oclif's own tests do, and
 * collect stdout, stderr, the returned result and the exit code.
 */
import {spawn} from 'node:child_process'
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

/** Run the built CLI as a user would: a child process, no terminal. */
export function runBin(
  argv: string[],
  opts: {env?: Record<string, string | undefined>; input?: string; timeoutMs?: number; cwd?: string} = {},
): Promise<{stdout: string; stderr: string; exitCode: number | null; signal: NodeJS.Signals | null}> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {}
    for (const [k, v] of Object.entries({...process.env, ...opts.env})) if (v !== undefined) env[k] = v
    const child = spawn(process.execPath, [BIN, ...argv], {
      env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? HANG_MS)
    child.on('error', reject)
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer)
      resolve({stdout, stderr, exitCode, signal})
    })
    child.stdin.end(opts.input ?? '')
  })
}
