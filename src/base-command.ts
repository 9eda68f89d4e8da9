import {stripVTControlCharacters} from 'node:util'
import {Command, Errors, Flags, type Interfaces, ux} from '@oclif/core'
import {revealSecret} from './argv-secrets.js'
import type {Database, DatabaseTarget} from './db/client.js'
import {
  ExitCode,
  FlagValueError,
  InterruptedError,
  ListingInterruptedError,
  mapDatabaseError,
  OpenMemoryError,
  ValidationError,
} from './errors.js'
import {waitFlag} from './flags.js'
import type {FlowIO} from './flows/io.js'
import {DURATION_GRAMMAR} from './services/duration.js'
import {colorEnabled, fitToStream, formatWarning, writeLine} from './ui/format.js'
import {progressBar} from './ui/progress.js'
import {assertCanConfirm, confirmDestructive} from './ui/prompts.js'
import {errorJson, reportError, runTimes} from './ui/report.js'
import {jsonSafe, terminalSafe} from './ui/sanitize.js'
import {closest} from './ui/suggest.js'

/**
 * The one base class: `--json` (oclif's enableJsonFlag: the value `run()`
 * returns is the JSON output), `--database-url`, a lazily opened database,
 * errors mapped to one line and the documented exit code, and the database
 * closed whatever happens.
 */
export abstract class BaseCommand extends Command {
  static enableJsonFlag = true

  static baseFlags = {
    'database-url': Flags.string({
      summary: 'PostgreSQL URL of the OpenMemory database.',
      description:
        'Default: OPENMEMORY_DATABASE_URL, then DATABASE_URL, else the embedded database in the data directory (OPENMEMORY_DATA_DIR).',
      helpGroup: 'DATABASE',
    }),
    'lock-timeout': waitFlag({
      summary: 'Longest wait for a row or table another session holds (e.g. 10s, 500ms, 2min); then exit 75.',
      description: `Default: OPENMEMORY_LOCK_TIMEOUT, else 10s. At most 24h; a bare number is seconds. ${DURATION_GRAMMAR}`,
      env: 'OPENMEMORY_LOCK_TIMEOUT',
      helpGroup: 'DATABASE',
    }),
  }

  /**
   * Commands that write set this: before the database opens, stderr names the
   * target ("openmemory: writing to …"), so no write lands somewhere unnoticed.
   */
  static writes = false

  /**
   * Commands that may create the embedded database on their first run
   * (create, import, migrate, the menu). Any other command finding no
   * embedded database, with no terminal attached, exits 5 instead: from cron
   * with no database variable exported, a new empty database would make every
   * maintenance run a silent no-op.
   */
  static createsDatabase = false

  /**
   * Writes first compare the live schema with what the tool writes (one
   * cached catalogue query) and refuse with exit 5, before any change, when a
   * column it needs is missing or changed, or one it does not fill is NOT NULL
   * without a default. `db migrate` (which builds the schema) turns it off.
   */
  static guardsSchema = true

  /** How long to wait for a busy embedded database before exiting 75. */
  protected lockWaitMs = 15_000

  /** When this run started: every JSON result carries it, with the run's duration. */
  protected readonly startedAt = new Date()

  private database?: Database
  private databaseUrlFlag?: string
  private lockTimeoutFlag?: number
  private dryRunFlag = false
  private targetCache?: DatabaseTarget

  /**
   * bin/run.js gives oclif the command line with secrets replaced by
   * placeholders (so DEBUG output never shows them): the parsed flags and
   * arguments get the real values back.
   */
  protected async parse<
    F extends Interfaces.OutputFlags<Interfaces.FlagInput>,
    B extends Interfaces.OutputFlags<Interfaces.FlagInput>,
    A extends Interfaces.OutputArgs<Interfaces.ArgInput>,
  >(options?: Interfaces.Input<F, B, A>, argv?: string[]): Promise<Interfaces.ParserOutput<F, B, A>> {
    const parsed = await super.parse(options, argv)
    for (const group of [parsed.flags, parsed.args] as Record<string, unknown>[]) {
      for (const [k, v] of Object.entries(group)) group[k] = revealSecret(v)
    }
    return parsed
  }

  public async init(): Promise<void> {
    await super.init()
    const {flags} = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    })
    this.databaseUrlFlag = (flags as {'database-url'?: string})['database-url']
    this.lockTimeoutFlag = (flags as {'lock-timeout'?: number})['lock-timeout']
    this.dryRunFlag = (flags as {'dry-run'?: boolean})['dry-run'] === true
  }

  /** Where the database is, without opening it. */
  protected async target(): Promise<DatabaseTarget> {
    if (!this.targetCache) {
      const {defaultDataDir, resolveTarget} = await import('./db/client.js')
      this.targetCache = resolveTarget({
        flag: this.databaseUrlFlag,
        env: process.env,
        defaultDataDir: defaultDataDir(process.env),
      })
    }
    return this.targetCache
  }

  /** The open database (opened on first use). */
  protected async connect(opts: {migrate?: boolean} = {}): Promise<Database> {
    if (!this.database) {
      const {openDatabase} = await import('./db/client.js')
      const target = await this.target()
      if (target.kind === 'embedded' && !(this.ctor as typeof BaseCommand).createsDatabase) {
        await this.requireEmbeddedUnlessTerminal(target.dataDir)
      }
      if ((this.ctor as typeof BaseCommand).writes) {
        this.info(targetLine(target, this.dryRunFlag), {
          event: 'target',
          target: target.display,
          source: target.source,
        })
      }
      this.database = await openDatabase(target, {
        notify: (m) => this.info(m, {event: 'notice'}),
        lockWaitMs: this.lockWaitMs,
        lockTimeoutMs: await this.lockTimeoutMs(),
        migrate: opts.migrate,
      })
      const ctor = this.ctor as typeof BaseCommand
      if (ctor.writes && ctor.guardsSchema) await this.refuseSchemaDrift(this.database)
    }
    return this.database
  }

  private async refuseSchemaDrift(database: Database): Promise<void> {
    const {describeIncompatibility, schemaFindings} = await import('./services/status.js')
    const {incompatibilities} = await schemaFindings(database)
    if (incompatibilities.length === 0) return
    const {DatabaseUnavailableError} = await import('./errors.js')
    const shown = incompatibilities.slice(0, 3).map(describeIncompatibility).join('; ')
    const more = incompatibilities.length > 3 ? ` (and ${incompatibilities.length - 3} more)` : ''
    throw new DatabaseUnavailableError(
      `The database's schema differs from what openmemory writes: ${shown}${more}. Nothing was changed; see 'openmemory db status'.`,
    )
  }

  /** Exit 5, creating nothing, when there is no embedded database and nobody at a terminal to notice one being made. */
  private async requireEmbeddedUnlessTerminal(dataDir: string): Promise<void> {
    if (process.stdin.isTTY || process.stderr.isTTY) return
    const {noEmbeddedDatabase} = await import('./db/embedded.js')
    if (!noEmbeddedDatabase(dataDir)) return
    const {DatabaseUnavailableError} = await import('./errors.js')
    throw new DatabaseUnavailableError(
      `No database to work on: --database-url, OPENMEMORY_DATABASE_URL and DATABASE_URL are unset, and there is no embedded database at ${dataDir} (OPENMEMORY_DATA_DIR); from cron, export the variable (set -a; . /etc/openmemory/env; set +a). Nothing was created.`,
    )
  }

  /** --lock-timeout, else OPENMEMORY_LOCK_TIMEOUT (both parsed with the flags: exit 2 when malformed), else 10 s. */
  protected async lockTimeoutMs(): Promise<number> {
    const {DEFAULT_LOCK_TIMEOUT_MS} = await import('./db/probe.js')
    return this.lockTimeoutFlag ?? DEFAULT_LOCK_TIMEOUT_MS
  }

  /** The drizzle database for services. */
  protected async db() {
    return (await this.connect()).db
  }

  /**
   * Return a result with a non-zero exit code (e.g. "key not valid": exit 1):
   * the result is still printed under --json, then the process exits quietly.
   */
  protected exitWith<R>(result: R, code: number): R {
    if (code === 0) return result
    if (this.jsonEnabled()) this.logJson(this.toSuccessJson(result))
    this.exit(code)
    return result
  }

  /**
   * Every human-facing write goes through the sanitiser (src/ui/sanitize.ts):
   * whatever a message quotes from data, no control or bidi character reaches
   * the terminal or the pipe raw. Values should still be sanitised where they
   * are put into a message (so a line break in data cannot start a new line);
   * this is the net under every path, new ones included.
   */
  public log(message = '', ...args: unknown[]): void {
    super.log(
      fitToStream(terminalSafe(String(message), {color: colorEnabled(process.stdout)}), process.stdout),
      ...args,
    )
  }

  public logToStderr(message = '', ...args: unknown[]): void {
    super.logToStderr(
      fitToStream(terminalSafe(String(message), {color: colorEnabled(process.stderr)}), process.stderr),
      ...args,
    )
  }

  /**
   * Text a human copies whole (a new key, CSV on a terminal): made terminal-safe
   * like every write, but never wrapped to the width.
   */
  protected logWhole(message: string): void {
    super.log(terminalSafe(message, {color: colorEnabled(process.stdout)}))
  }

  /** A warning on stderr: "Warning: …" for a human, one JSON line under --json. */
  public warn(input: string | Error): string | Error {
    this.stderr('warn', input instanceof Error ? input.message : input)
    return input
  }

  /**
   * The one writer of stderr. Under --json a JSON line (`info` and `warn`; a
   * note, being for a human, is dropped), so both streams carry JSON only;
   * otherwise terminal-safe text, a warning prefixed with "Warning:".
   */
  protected stderr(
    level: 'info' | 'warn' | 'note',
    message: string,
    fields: Record<string, unknown> = {},
  ): void {
    if (this.jsonEnabled()) {
      if (level !== 'note') process.stderr.write(`${jsonSafe(JSON.stringify({level, ...fields, message}))}\n`)
      return
    }
    writeLine(process.stderr, level === 'warn' ? formatWarning(message) : message)
  }

  /** What a flow says and asks through (src/flows/io.ts), built from --json and the terminal. */
  protected io(): FlowIO {
    const json = this.jsonEnabled()
    return {
      json,
      log: (text) => this.log(text),
      note: (text) => this.note(text),
      warn: (text) => {
        this.warn(text)
      },
      secret: (text) => this.logWhole(text),
      confirm: (q) => confirmDestructive({...q, json}),
      assertCanConfirm: (q) => assertCanConfirm({...q, json}),
      progress: (label) => progressBar(label, !json),
    }
  }

  /** JSON output stays exact; what JSON.stringify leaves raw (C1, bidi, U+2028/9) is \u-escaped. */
  public logJson(json: unknown): void {
    ux.stdout(jsonSafe(ux.colorizeJson(json, {pretty: true, theme: this.config.theme?.json})))
  }

  /**
   * Machine output that is not JSON (CSV): exact in a pipe or file, where a
   * program reads it; sanitised when stdout is a terminal, where a human does.
   */
  protected logData(text: string): void {
    if (this.jsonEnabled()) return
    if (process.stdout.isTTY) this.logWhole(text)
    else ux.stdout(text)
  }

  /**
   * A line that must reach the operator (the target, a first-run notice): on
   * stderr, and under --json as one JSON line there, so a log made with `2>&1`
   * stays JSON.
   */
  protected info(message: string, fields: Record<string, unknown> = {}): void {
    this.stderr('info', message, fields)
  }

  /** Progress and warnings: stderr, never under --json. */
  protected note(message: string): void {
    this.stderr('note', message)
  }

  protected async catch(err: Error & {code?: string}): Promise<never> {
    // this.exit() inside run(): not an error.
    if (err.code === 'EEXIT') throw err
    const display = this.targetCache?.display ?? 'the configured database'
    let error: OpenMemoryError
    if (err.name === 'ExitPromptError' || err.name === 'AbortPromptError') {
      error = new InterruptedError()
    } else if (err instanceof FlagValueError) {
      // A value one of our flags refused (src/flags.ts): oclif's parser rewrote its message.
      error = err.restored()
    } else if (err instanceof ListingInterruptedError) {
      error = interruptedListing(err, display)
    } else if (err instanceof OpenMemoryError) {
      error = err
    } else if (err instanceof Errors.CLIError) {
      // oclif's own parse errors (unknown flag, missing or extra argument, a value not
      // among the options, exclusive / dependsOn): usage.
      error = this.usageError(err)
    } else {
      error =
        mapDatabaseError(err, display) ??
        new OpenMemoryError(unexpectedMessage(err), {code: 'UNEXPECTED', exitCode: ExitCode.failure})
    }
    if (process.env.DEBUG && err.stack) writeLine(process.stderr, err.stack)
    if (error.exitCode === ExitCode.unavailable) ignoreLateDriverErrors()
    if (this.jsonEnabled() && err instanceof ListingInterruptedError) {
      // stdout holds the rows (a closed array): the error is one JSON line on stderr.
      writeLine(process.stderr, JSON.stringify(errorJson(error, this.startedAt)))
    } else if (this.jsonEnabled()) this.logJson(errorJson(error, this.startedAt))
    else if (error.exitCode !== ExitCode.interrupted)
      reportError(error, {json: false, startedAt: this.startedAt})
    this.exit(error.exitCode)
    throw error // unreachable: exit() throws
  }

  /** Every run's JSON carries when it started and how long it took. */
  protected toSuccessJson(result: unknown): unknown {
    if (result === null || typeof result !== 'object' || Array.isArray(result)) return result
    return {...result, ...runTimes(this.startedAt)}
  }

  /**
   * One line for an oclif parse error, naming the flag meant when one was mistyped
   * (NonExistentFlagsError carries them in `flags`).
   */
  private usageError(err: Errors.CLIError): ValidationError {
    const lines = stripVTControlCharacters(err.message)
      .split('\n')
      .map((l) => l.replace(/\s+/g, ' ').trim())
      .filter((l) => l !== '')
    // A CLIParseError (it carries `parse`) ends with oclif's own "See more help with --help" line.
    const body = 'parse' in err && lines.length > 1 ? lines.slice(0, -1) : lines
    const line = (rewordParseError(body) || 'Invalid usage').replace(/\.?$/, '.')
    const mistyped = 'flags' in err && Array.isArray(err.flags) ? String(err.flags[0]) : undefined
    const suggestion = mistyped === undefined ? undefined : this.closestFlag(mistyped)
    return suggestion
      ? new ValidationError(`${line} Did you mean ${suggestion}? See --help.`, [suggestion])
      : new ValidationError(`${line} See --help.`)
  }

  /** The flag (as `--name`) closest to a mistyped one, if any is plausibly meant. */
  private closestFlag(typed: string): string | undefined {
    const names = Object.entries({...this.ctor.baseFlags, ...this.ctor.flags}).flatMap(([name, flag]) => [
      `--${name}`,
      ...((flag as {char?: string}).char ? [`-${(flag as {char?: string}).char}`] : []),
    ])
    if (this.ctor.enableJsonFlag) names.push('--json')
    return closest(typed.replace(/=.*$/, ''), names)
  }

  /** Close the database if it is open; the next connect() opens it again. */
  protected async disconnect(): Promise<void> {
    const database = this.database
    this.database = undefined
    if (database) await database.close().catch(() => {})
  }

  protected async finally(err: Error | undefined): Promise<void> {
    await this.disconnect()
    await super.finally(err)
  }
}

/**
 * A listing the database stopped half-way: the database's error (its exit
 * code: 75 for a timeout or cancel, 5 for a lost connection), said to be
 * incomplete, with the number of rows that were written.
 */
function interruptedListing(err: ListingInterruptedError, display: string): OpenMemoryError {
  const cause = err.cause
  const base =
    cause instanceof OpenMemoryError
      ? cause
      : (mapDatabaseError(cause, display) ??
        new OpenMemoryError(unexpectedMessage(cause as Error), {
          code: 'UNEXPECTED',
          exitCode: ExitCode.failure,
        }))
  return new OpenMemoryError(`The listing is incomplete (${err.rows} row(s) written): ${base.message}`, {
    code: base.code,
    exitCode: base.exitCode,
    suggestions: base.suggestions,
    cause,
    data: {...base.data, incomplete: true, listedCount: err.rows},
  })
}

/**
 * "openmemory: writing to postgres://openmemory:***@db:5432/openmemory (from DATABASE_URL)";
 * for the embedded database, also that no URL variable is set.
 */
export function targetLine(target: DatabaseTarget, dryRun: boolean): string {
  const verb = dryRun ? 'dry run against' : 'writing to'
  const from =
    target.kind === 'postgres'
      ? `from ${target.source}`
      : `${target.source === 'OPENMEMORY_DATA_DIR' ? 'from OPENMEMORY_DATA_DIR; ' : ''}neither OPENMEMORY_DATABASE_URL nor DATABASE_URL is set`
  return `openmemory: ${verb} ${target.display} (${from})`
}

/**
 * When the server has gone away mid-run, postgres.js can still throw from a
 * timer while it tries to write (e.g. the ROLLBACK of the transaction the
 * server cut off) to a socket that no longer exists. The command has already
 * reported the lost connection and exits 5; such a late throw must not turn
 * that into a crash with exit 1. Anything else still crashes as usual.
 */
function ignoreLateDriverErrors(): void {
  process.on('uncaughtException', (error) => {
    if (/node_modules[\\/]postgres[\\/]/.test(error.stack ?? '') || /reading 'write'/.test(error.message))
      return
    process.stderr.write(`${error.stack ?? error.message}\n`)
    process.exit(ExitCode.failure)
  })
}

function unexpectedMessage(err: Error): string {
  const code = (err as {code?: unknown}).code ?? (err.cause as {code?: unknown} | undefined)?.code
  // Driver messages can carry SQL and parameters: name the code only.
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    return `The database refused the operation (SQLSTATE ${code}); nothing was changed. Set DEBUG=1 for details.`
  }
  return `Unexpected failure: ${err.message.split('\n')[0]}. Set DEBUG=1 for details.`
}

/**
 * oclif's parse messages in the tool's words, by what each says (the parser's
 * error classes are not exported): "Nonexistent flag: --x" → "Unknown flag
 * --x", "The following errors occurred: --a=1 cannot also be provided when
 * using --b …" → "--a and --b cannot be used together", "All of the following
 * must be provided when using --a: --b" → "--a needs --b", "Flag --x expects a
 * value" → "--x needs a value", "Expected --x=v to be one of: a, b" → "Invalid
 * --x v: use one of a, b". Anything else passes as oclif wrote it.
 */
export function rewordParseError(lines: string[]): string {
  const reasons: string[] = []
  const pairs = new Set<string>()
  for (const raw of lines) {
    const l = raw.replace(/\.$/, '')
    if (/^The following errors? occurred:?$/.test(l)) continue
    let m = /^Nonexistent flags?: (.+)$/.exec(l)
    if (m) {
      reasons.push(`Unknown flag${m[1].includes(',') ? 's' : ''} ${m[1]}`)
      continue
    }
    m = /^(--[\w-]+)(?:=\S*)? cannot also be provided when using (--[\w-]+)$/.exec(l)
    if (m) {
      const pair = [m[1], m[2]].sort().join(' and ')
      if (!pairs.has(pair)) reasons.push(`${pair} cannot be used together`)
      pairs.add(pair)
      continue
    }
    m = /^All of the following must be provided when using (--[\w-]+): (.+)$/.exec(l)
    if (m) {
      reasons.push(`${m[1]} needs ${m[2].split(/,\s*/).join(' and ')}`)
      continue
    }
    m = /^Flag (--[\w-]+) expects a value$/.exec(l)
    if (m) {
      reasons.push(`${m[1]} needs a value`)
      continue
    }
    m = /^Expected (--[\w-]+)=(.*) to be one of: (.+)$/.exec(l)
    if (m) {
      reasons.push(`Invalid ${m[1]} ${JSON.stringify(m[2])}: use one of ${m[3]}`)
      continue
    }
    m = /^Unexpected arguments?: (.+)$/.exec(l)
    if (m) {
      reasons.push(`Unexpected argument${m[1].includes(',') ? 's' : ''} ${m[1]}`)
      continue
    }
    reasons.push(l)
  }
  return reasons.join('; ')
}
