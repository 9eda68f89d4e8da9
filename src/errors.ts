/**
 * Domain errors and the exit-code table (docs/contract.md §4).
 *
 * Services throw these; the base command turns them into one line on stderr
 * (or a JSON error under --json) and the process exit code.
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  unavailable: 5,
  busy: 75,
  interrupted: 130,
} as const

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

export class OpenMemoryError extends Error {
  readonly code: string
  readonly exitCode: ExitCodeValue
  readonly suggestions: string[]
  /** What the command found before failing: merged into the `--json` output beside `error`. */
  readonly data?: Record<string, unknown>
  /**
   * A message that is a list (bad rows by line): shown as these lines on a
   * terminal or in a log, each escaped on its own; `message` joins them.
   */
  readonly lines?: string[]

  constructor(
    message: string,
    opts: {
      code: string
      exitCode: ExitCodeValue
      suggestions?: string[]
      cause?: unknown
      data?: Record<string, unknown>
      lines?: string[]
    },
  ) {
    super(message, opts.cause === undefined ? undefined : {cause: opts.cause})
    this.name = new.target.name
    this.code = opts.code
    this.exitCode = opts.exitCode
    this.suggestions = opts.suggestions ?? []
    if (opts.data !== undefined) this.data = opts.data
    if (opts.lines !== undefined) this.lines = opts.lines
  }
}

/** Bad usage or invalid input: exit 2. */
export class ValidationError extends OpenMemoryError {
  constructor(message: string, suggestions: string[] = []) {
    super(message, {code: 'INVALID_INPUT', exitCode: ExitCode.usage, suggestions})
  }
}

/**
 * A flag value refused by its own parse (src/flags.ts). oclif's parser
 * rewrites the message of whatever a flag's parse throws ("Parsing --x" and
 * "See more help" lines around it), so the one line is kept here too and the
 * base command puts it back: recognised by class, never by its text.
 */
export class FlagValueError extends ValidationError {
  readonly line: string

  constructor(message: string, suggestions: string[] = []) {
    super(message, suggestions)
    this.line = message
  }

  /** The error as thrown, whatever oclif did to its message on the way. */
  restored(): FlagValueError {
    this.message = this.line
    return this
  }
}

/** A required input is missing and there is no terminal to ask on: exit 2. */
export class MissingInputError extends OpenMemoryError {
  constructor(what: string, hint?: string) {
    super(`Missing ${what}${hint ? `: ${hint}` : ''}`, {code: 'MISSING_INPUT', exitCode: ExitCode.usage})
  }
}

export class NotFoundError extends OpenMemoryError {
  constructor(message: string, suggestions: string[] = [], data?: Record<string, unknown>) {
    super(message, {code: 'NOT_FOUND', exitCode: ExitCode.notFound, suggestions, data})
  }
}

export class UserNotFoundError extends NotFoundError {
  /** `closeMatches`: existing userIds the operator probably meant (see services/user-lookup.ts). */
  constructor(
    userId: string,
    readonly closeMatches: string[] = [],
  ) {
    const quote = (id: string) => `'${id}'`
    const meant =
      closeMatches.length === 0
        ? ''
        : ` Did you mean ${closeMatches.slice(0, -1).map(quote).join(', ')}${closeMatches.length > 1 ? ' or ' : ''}${quote(closeMatches[closeMatches.length - 1])}?`
    super(
      `User '${userId}' not found.${meant} Run 'openmemory users list' to see existing users.`,
      ['openmemory users list'],
      {userId, closeMatches},
    )
  }
}

export class ConflictError extends OpenMemoryError {
  constructor(message: string, suggestions: string[] = []) {
    super(message, {code: 'CONFLICT', exitCode: ExitCode.conflict, suggestions})
  }
}

export class DatabaseUnavailableError extends OpenMemoryError {
  constructor(message: string, cause?: unknown) {
    super(message, {code: 'DB_UNAVAILABLE', exitCode: ExitCode.unavailable, cause})
  }
}

/** Another run holds the lock: exit 75 (EX_TEMPFAIL), try later. */
export class BusyError extends OpenMemoryError {
  constructor(message: string) {
    super(message, {code: 'BUSY', exitCode: ExitCode.busy})
  }
}

/**
 * The server closed the session in the middle of a transaction that had sat
 * longer than its idle_in_transaction_session_timeout: a server-side limit,
 * not a network failure. Exit 75: nothing was changed; a rerun may pass.
 */
export class ServerTimeoutError extends OpenMemoryError {
  constructor(setting: string, ranMs: number, cause?: unknown) {
    super(
      `The server closed the connection during the transaction (which ran ${(ranMs / 1000).toFixed(1)} s), most likely for idle_in_transaction_session_timeout = ${setting} on this database; nothing was changed. Run it again, or raise that setting for the openmemory role.`,
      {code: 'SERVER_TIMEOUT', exitCode: ExitCode.busy, cause},
    )
  }
}

/** Ctrl-C at a prompt (or Esc outside the menu, see BackError): exit 130, quietly. */
export class InterruptedError extends OpenMemoryError {
  constructor() {
    super('Interrupted.', {code: 'INTERRUPTED', exitCode: ExitCode.interrupted})
  }
}

/**
 * Esc at a prompt: one step back. A flow's steps go back to the one before,
 * the menu back to its choice; anywhere else (a command asking for a missing
 * input) it leaves like Ctrl-C, exit 130.
 */
export class BackError extends InterruptedError {}

/**
 * A check ran and found a problem (`users test`, `db verify`): exit 1. The
 * findings travel in `data`, so `--json` still carries them.
 */
export class CheckFailedError extends OpenMemoryError {
  constructor(message: string, data: Record<string, unknown>, suggestions: string[] = []) {
    super(message, {code: 'CHECK_FAILED', exitCode: ExitCode.failure, suggestions, data})
  }
}

/** The OpenMemory API server cannot be reached or does not answer in time: exit 5. */
export class ServerUnreachableError extends OpenMemoryError {
  constructor(message: string, data: Record<string, unknown>, suggestions: string[] = []) {
    super(message, {code: 'SERVER_UNREACHABLE', exitCode: ExitCode.unavailable, suggestions, data})
  }
}

/** The database schema is not one the tool can work with. */
export class SchemaError extends OpenMemoryError {
  constructor(message: string, suggestions: string[] = []) {
    super(message, {code: 'SCHEMA', exitCode: ExitCode.failure, suggestions})
  }
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
])

/** The connection was lost (no answer from the server), as opposed to an error the server sent. */
export function isConnectionLoss(err: unknown): boolean {
  const code = driverCode(err)
  return code !== undefined && CONNECTION_CODES.has(code)
}

/**
 * COMMIT was sent and its answer lost, and the database could not be asked
 * again: the change may be committed. Exit 75; every key is kept (in its
 * files, under their temporary names, for the next run to settle).
 */
export class CommitUnknownError extends OpenMemoryError {
  constructor(
    readonly what: string,
    cause?: unknown,
    /** Where the keys are kept, or null when they are shown instead. */
    readonly kept?: string | null,
    data?: Record<string, unknown>,
  ) {
    super(
      `The connection was lost after COMMIT was sent and the database cannot be reached to check: whether ${what} is committed is unknown. ${
        kept
          ? `The new keys are kept in ${kept}; run the same command again once the database is back: it gives them their names if they were committed and removes them if not.`
          : "Keep the new key shown (it may be the only working one); check with 'openmemory keys verify' or 'openmemory users show <userId>' once the database is back."
      }`,
      {code: 'COMMIT_UNKNOWN', exitCode: ExitCode.busy, cause, data, suggestions: ['openmemory keys verify']},
    )
  }

  /** The same error, saying where the keys are kept (or carrying the key when it has no file). */
  keptIn(kept: string | null, data?: Record<string, unknown>): CommitUnknownError {
    return new CommitUnknownError(this.what, this.cause, kept, data)
  }
}

/** SQLSTATE classes that mean "the server refused us": auth, missing database, too many connections, shutdown. */
function isRefusal(sqlState: string): boolean {
  return (
    sqlState.startsWith('08') ||
    sqlState === '28P01' ||
    sqlState === '28000' ||
    sqlState === '3D000' ||
    sqlState === '53300' ||
    sqlState === '57P01' ||
    sqlState === '57P02' ||
    sqlState === '57P03'
  )
}

/** The (masked) URL asks for TLS: sslmode=require / verify-ca / verify-full, or ssl=true. */
function wantsTls(target: string): boolean {
  return /[?&](sslmode=(require|verify-ca|verify-full)|ssl=(true|1|require))(&|$)/i.test(target)
}

function driverCode(err: unknown): string | undefined {
  let e: unknown = err
  for (let depth = 0; e && depth < 5; depth++) {
    const code = (e as {code?: unknown}).code
    if (typeof code === 'string' && code !== '') return code
    e = (e as {cause?: unknown}).cause
  }
  return undefined
}

/** The message of the error in the chain that carries the SQLSTATE (for matching, not for display). */
function driverMessage(err: unknown): string {
  let e: unknown = err
  for (let depth = 0; e && depth < 5; depth++) {
    const code = (e as {code?: unknown}).code
    if (typeof code === 'string' && code !== '') return String((e as {message?: unknown}).message ?? '')
    e = (e as {cause?: unknown}).cause
  }
  return ''
}

/**
 * A lock wait that ran into lock_timeout (55P03), named: `what` is what was
 * waited for (e.g. "user 'alice'"). Any other error is returned unchanged.
 */
export function lockWaitError(err: unknown, what: string): unknown {
  if (driverCode(err) !== '55P03') return err
  return new BusyError(
    `Gave up waiting for ${what}: another session holds it (lock_timeout, see --lock-timeout); nothing was changed. Try again later.`,
  )
}

/**
 * The one place PostgreSQL and driver errors are mapped. The raw driver
 * message is never shown: it can carry SQL and parameters.
 */
export function mapDatabaseError(err: unknown, target: string): OpenMemoryError | undefined {
  if (err instanceof OpenMemoryError) return err
  const code = driverCode(err)
  if (!code) return undefined
  if (CONNECTION_CODES.has(code) || isRefusal(code)) {
    const why =
      code === '28P01' || code === '28000'
        ? 'authentication failed: check the user name and password'
        : code === '3D000'
          ? 'the database does not exist: check the database name'
          : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
            ? 'the host name does not resolve: check the host'
            : code === 'ECONNREFUSED'
              ? 'connection refused: check that PostgreSQL is running and the host and port are right'
              : wantsTls(target) && CONNECTION_CODES.has(code)
                ? // A server without TLS closes the connection (or stalls) at the TLS handshake.
                  'the connection failed or timed out and the URL requires TLS: check that the server accepts TLS connections (or change sslmode), and the host and port'
                : code === 'CONNECT_TIMEOUT' || code === 'ETIMEDOUT'
                  ? 'connection timed out: check the host, port and firewall'
                  : code === '53300'
                    ? 'too many connections: try again later'
                    : code.startsWith('57P')
                      ? 'the server is shutting down or starting up: try again later'
                      : 'the connection failed or was closed: check that PostgreSQL is running and reachable'
    return new DatabaseUnavailableError(`Cannot use database ${target}: ${why}.`, err)
  }
  if (code === '23505') {
    return new ConflictError(
      'That record already exists (a unique constraint refused it); nothing was written.',
    )
  }
  if (code === '55P03' || code === '40P01') {
    return new BusyError(
      code === '55P03'
        ? 'Gave up waiting for rows another session holds (lock_timeout, see --lock-timeout); nothing was changed. Try again later.'
        : 'Another session changed the same rows at the same time (deadlock); nothing was changed. Try again.',
    )
  }
  if (code === '57014') {
    return new BusyError(
      "The database cancelled a statement (statement_timeout, or an administrator's cancel); nothing was changed. Try again later, or raise statement_timeout for this role.",
    )
  }
  if (code === '42P01' || code === '42703' || code === '42704') {
    // The driver's message is read, never shown: it names the relation or column that is missing.
    if (/openmemory_admin|api_keys|last_active/.test(driverMessage(err))) {
      return new SchemaError(
        `The database ${target} has not been migrated for this tool yet: run 'openmemory db migrate' (it adds the tool's own tables and only what the server schema lacks; 'openmemory db status' shows what is pending).`,
        ['openmemory db migrate', 'openmemory db status'],
      )
    }
    return new SchemaError(
      `The database ${target} does not have the schema this tool expects. Run 'openmemory db status' to see what differs.`,
      ['openmemory db status', 'openmemory db migrate'],
    )
  }
  return undefined
}

/** A key file could not be written: nothing was committed, nothing is left behind. Exit 1. */
export class KeyFileError extends OpenMemoryError {
  constructor(file: string, code: string | undefined) {
    const why =
      code === 'ENOSPC' || code === 'EDQUOT'
        ? 'the disk is full'
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? 'permission denied'
          : (code ?? 'error')
    super(
      `Cannot write key file ${file} (${why}); nothing was changed in the database and no file was left.`,
      {
        code: 'KEY_FILE',
        exitCode: ExitCode.failure,
      },
    )
  }
}

/**
 * The database change committed, then something failed: the message and the
 * JSON error's `committed` say exactly what is now true. Exit 1.
 */
export class FailedAfterCommitError extends OpenMemoryError {
  constructor(summary: string, committed: Record<string, unknown>, cause: unknown) {
    const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause)
    super(`Committed: ${summary}. Then this failed: ${reason.replace(/\.$/, '')}.`, {
      code: 'FAILED_AFTER_COMMIT',
      exitCode: ExitCode.failure,
      cause,
      data: {committed},
    })
  }
}

/** At most this many problems of a file are named; the rest are counted. */
export const PROBLEMS_SHOWN = 20

/** Exit 2 naming each problem of a file by line (the first 20), nothing written. */
export class ImportProblemsError extends OpenMemoryError {
  /** `problems`: the first ones by line (at least PROBLEMS_SHOWN when there are that many); `total`: all. */
  constructor(problems: {line: number; message: string}[], source: string, total = problems.length) {
    const shown = problems.slice(0, PROBLEMS_SHOWN)
    const more = total - shown.length
    const lines = [
      `${total} problem${total === 1 ? '' : 's'} in ${source}; nothing was written:`,
      ...shown.map((p) => `  line ${p.line}: ${p.message}`),
      ...(more > 0 ? [`  ... and ${more} more.`] : []),
    ]
    super(lines.join('\n'), {
      code: 'INVALID_INPUT',
      exitCode: 2,
      data: {problems: shown, problemCount: total},
      lines,
    })
  }
}

/**
 * The deleted-id guard of `users create`, for a whole file: exit 4 naming
 * each userId this tool deleted before (the first 20, by line), unless
 * --reuse-deleted-id. Nothing is written.
 */
export class DeletedIdsError extends ConflictError {
  constructor(deleted: {row: {line: number; userId: string}; at: string}[], source: string) {
    const shown = deleted.slice(0, PROBLEMS_SHOWN)
    const more = deleted.length - shown.length
    const lines = [
      `${deleted.length} userId${deleted.length === 1 ? '' : 's'} in ${source} belonged to users this tool deleted; the server's vector store keys memories by userId, so new users with these ids would find the old users' memories through search. Nothing was written:`,
      ...shown.map((d) => `  line ${d.row.line}: ${d.row.userId} (deleted ${d.at})`),
      ...(more > 0 ? [`  ... and ${more} more.`] : []),
      'Delete their vector-store points first (Qdrant: delete points by filter on payload user_id), then pass --reuse-deleted-id; or remove those rows.',
    ]
    super(lines.join('\n'), ['openmemory audit list --user <userId>'])
    Object.assign(this, {lines})
  }
}

/**
 * The database failed after the listing began: `rows` were written (and, for
 * JSON, the array closed). The command reports `cause` as usual, marked
 * incomplete (docs/json.md; reported by BaseCommand.catch).
 */
export class ListingInterruptedError extends Error {
  constructor(
    readonly cause: unknown,
    readonly rows: number,
  ) {
    super(`the listing stopped after ${rows} row(s)`)
    this.name = 'ListingInterruptedError'
  }
}
