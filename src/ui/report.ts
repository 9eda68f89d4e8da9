/**
 * How a run ends on the terminal or in a log: the error line (stderr), or
 * under --json the error document (stdout) and nothing else. Shared by the
 * base command and by the hooks and help that run before any command does
 * (an unknown command, `help` on an unknown subject).
 */
import type {OpenMemoryError} from '../errors.js'
import {fitToStream, formatError} from './format.js'
import {jsonText, sanitize} from './sanitize.js'

/** `startedAt` (ISO, milliseconds) and `durationMs`: every run's JSON carries them. */
export function runTimes(startedAt: Date, now: Date = new Date()): {startedAt: string; durationMs: number} {
  return {startedAt: startedAt.toISOString(), durationMs: Math.max(0, now.getTime() - startedAt.getTime())}
}

/** The JSON document of a failed run. */
export function errorJson(error: OpenMemoryError, startedAt: Date): Record<string, unknown> {
  return {
    ...error.data,
    error: {
      code: error.code,
      message: error.message,
      exitCode: error.exitCode,
      suggestions: error.suggestions,
    },
    ...runTimes(startedAt),
  }
}

/**
 * Report a failed run: one line on stderr, or under --json the error document
 * on stdout only (so a log made with `2>&1` holds it once, as JSON).
 */
export function reportError(error: OpenMemoryError, opts: {json: boolean; startedAt: Date}): void {
  if (opts.json) {
    process.stdout.write(`${jsonText(errorJson(error, opts.startedAt))}\n`)
  } else if (error.lines && error.lines.length > 0) {
    // A list (bad rows by line): one line each, each escaped on its own.
    const [first, ...rest] = error.lines
    process.stderr.write(
      `${fitToStream([formatError(first as string), ...rest.map((l) => sanitize(l))].join('\n'), process.stderr)}\n`,
    )
  } else {
    process.stderr.write(`${fitToStream(formatError(error.message), process.stderr)}\n`)
  }
}

/** Whether the raw command line asks for JSON (before any command parsed it). */
export function argvWantsJson(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false
    if (arg === '--json') return true
  }
  return false
}
