/**
 * Key files before their commit: the one place that decides when a key file
 * exists (`users create --key-file`, `keys rotate --key-file`, and the bulk
 * destinations `--key-dir`, `--keys-out`, `--seal-to … --out`).
 *
 * 1. Before the transaction opens, every file is written and fsynced under a
 *    temporary name inside its destination (`.NAME.pending`), and a journal
 *    of the run (which database, one of its new key hashes, where the files
 *    are) is written to `<data dir>/pending/`.
 * 2. Inside the transaction only SQL runs: it never waits on the disk.
 * 3. After the commit the files take their names and the journal goes; after
 *    a rollback the files and the journal go.
 *
 * SIGINT, SIGTERM and SIGHUP before COMMIT is sent remove the files (closing
 * the connection rolls the transaction back); once COMMIT may be on its way
 * the exit waits for the outcome (bounded), so what may be committed is never
 * removed. After a SIGKILL, the next key-writing run on the same database
 * settles the journal: the run's key hash stored means it committed, so its
 * files take their names; otherwise they are removed.
 *
 * A key directory is created once and opened once; every file in it is
 * written and renamed through that descriptor (`/proc/self/fd/N/...`), so
 * swapping the path for a link afterwards cannot redirect a key.
 */
import {randomBytes} from 'node:crypto'
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  type Stats,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import path from 'node:path'
import {sql} from 'drizzle-orm'
import type {Db} from '../db/client.js'
import {keyHashesStored} from '../db/commit.js'
import {rows} from '../db/sql.js'
import {ConflictError, KeyFileError, ValidationError} from '../errors.js'
import {show} from '../services/validation.js'
import {stopPoint} from '../stop-point.js'
import {writeLine} from './format.js'
import {sanitize} from './sanitize.js'

const PENDING = '.pending'

/** What the next run needs to settle an interrupted one. */
export interface Journal {
  version: 1
  runId: string
  pid: number
  /** The process's start time (/proc/PID/stat), so a reused pid is not taken for the run. */
  pidStart: string | null
  command: string
  startedAt: string
  /** Which database (system identifier / database name): only a run on the same one settles it. */
  database: string
  /** One of the run's new key hashes: the transaction stored all of them or none. */
  keyHash: string
  count: number
  kind: 'dir' | 'file'
  /** The destination: the key directory, or the file. */
  path: string
  /** For a file: its temporary name beside it. */
  pending?: string
}

/** Where journals live: `<the tool's data directory>/pending` (XDG_DATA_HOME, else ~/.local/share). */
export async function journalDir(): Promise<string> {
  const {defaultDataDir} = await import('../db/client.js')
  return path.join(defaultDataDir(process.env), 'pending')
}

/** Which database this is, the same through any route to it (PgBouncer included). */
export async function databaseIdentity(db: Db): Promise<string> {
  try {
    const [row] = await rows<{id: string}>(
      db,
      sql`select system_identifier::text || '/' || current_database() as id from pg_control_system()`,
    )
    return row.id
  } catch {
    // A managed server may not let every role read pg_control_system(): host, port and name then.
    const [row] = await rows<{id: string}>(
      db,
      sql`select coalesce(host(inet_server_addr()), 'local') || ':' || coalesce(inet_server_port(), 0) || '/' || current_database() as id`,
    )
    return row.id
  }
}

function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

function alive(j: Journal): boolean {
  if (j.pid === process.pid) return false
  try {
    process.kill(j.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
  }
  return j.pidStart === null || processStart(j.pid) === j.pidStart
}

function fsyncPath(p: string): void {
  let fd: number | undefined
  try {
    fd = openSync(p, 'r')
    fsyncSync(fd)
  } catch {
    // Some filesystems refuse fsync on a directory: the files themselves are synced.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** Create `file` for writing, never overwriting and never through a link: 0600. */
function openNew(file: string): number {
  return openSync(
    file,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  )
}

function writeAll(fd: number, content: string | Uint8Array): void {
  const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content
  let done = 0
  while (done < data.length) done += writeSync(fd, data, done, data.length - done)
}

/** Create `file` (never overwriting), write all of it, fsync, close. */
function writeNew(file: string, content: string | Uint8Array): void {
  const fd = openNew(file)
  try {
    writeAll(fd, content)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

function tryUnlink(file: string): void {
  try {
    unlinkSync(file)
  } catch {}
}

/** The phases a signal must respect. */
type Phase = 'staged' | 'committing' | 'done'

/** How a run's files ended. */
type Outcome = 'placed' | 'removed' | 'kept'

/** One destination's files of one run. */
export abstract class Pending {
  readonly runId = randomBytes(8).toString('hex')

  phase: Phase = 'done'

  /** Whether stage() ran: before it, nothing of the run is on disk but an empty key directory. */
  private staged = false

  private journalFile?: string

  /** The first folder of the journal's path this run created (removed again when left empty). */
  private madeDirs?: string

  constructor(
    /** The destination as the operator will see it. */
    readonly path: string,
    protected readonly what: string,
  ) {}

  /** Files of this run open for appending (by name), until seal(). */
  private appending = new Map<string, number>()

  /**
   * Write the files under their temporary names and the journal, fsynced:
   * before the transaction opens. One call (begin, write, seal).
   */
  async stage(
    files: {name: string; content: string | Uint8Array}[],
    run: {db: Db; command: string; keyHash: string; count: number},
  ): Promise<void> {
    await this.begin(run)
    this.write(files)
    await this.seal()
  }

  /**
   * Staging in steps (a bulk run, batch by batch): the journal first, so
   * whatever file of the run may exist is covered by it.
   */
  async begin(run: {db: Db; command: string; keyHash: string; count: number}): Promise<void> {
    const database = await databaseIdentity(run.db)
    const dir = await journalDir()
    guard(this)
    this.staged = true
    this.phase = 'staged'
    this.failing(() => {
      this.madeDirs = mkdirSync(dir, {recursive: true, mode: 0o700})
      const journal: Journal = {
        version: 1,
        runId: this.runId,
        pid: process.pid,
        pidStart: processStart(process.pid),
        command: run.command,
        startedAt: new Date().toISOString(),
        database,
        keyHash: run.keyHash,
        count: run.count,
        ...this.journalPlace(),
      }
      this.journalFile = path.join(dir, `${this.runId}.json`)
      writeNew(this.journalFile, `${JSON.stringify(journal)}\n`)
      fsyncPath(dir)
    })
  }

  /** Whole files under their temporary names, each fsynced (after begin()). */
  write(files: {name: string; content: string | Uint8Array}[]): void {
    this.failing(() => {
      for (const f of files) {
        const fd = this.openTemp(f.name)
        try {
          writeAll(fd, f.content)
          fsyncSync(fd)
        } finally {
          closeSync(fd)
        }
      }
    })
  }

  /** More of a file under its temporary name (created by the first call; fsynced by seal()). */
  append(name: string, chunk: string | Uint8Array): void {
    this.failing(() => {
      let fd = this.appending.get(name)
      if (fd === undefined) {
        fd = this.openTemp(name)
        this.appending.set(name, fd)
      }
      writeAll(fd, chunk)
    })
  }

  /** Everything of the run is written: fsync and close what was appended to, sync the folder. */
  async seal(): Promise<void> {
    this.failing(() => {
      for (const fd of this.appending.values()) fsyncSync(fd)
      this.closeAppending()
      this.syncFolder()
    })
    await stopPoint('staged')
  }

  /** A staging step failed: everything of the run goes, and the error says which file. */
  private failing(step: () => void): void {
    try {
      step()
    } catch (error) {
      this.abort()
      if (error instanceof ConflictError || error instanceof ValidationError) throw error
      throw new KeyFileError(this.path, (error as NodeJS.ErrnoException).code)
    }
  }

  private closeAppending(): void {
    for (const fd of this.appending.values()) {
      try {
        closeSync(fd)
      } catch {}
    }
    this.appending.clear()
  }

  /** COMMIT may now be sent: from here a signal waits for its outcome instead of removing files. */
  committing(): void {
    if (this.phase === 'staged') this.phase = 'committing'
  }

  /** The transaction committed: the files take their names, the journal goes. */
  async commit(): Promise<void> {
    if (!this.staged) return
    await stopPoint('committed')
    this.committing()
    this.place()
    this.dropJournal()
    this.finish('placed')
  }

  /** The transaction rolled back (or never ran): the files and the journal go. */
  abort(): void {
    if (!this.staged) {
      this.unused()
      return
    }
    if (this.phase === 'done') return
    this.closeAppending()
    this.discard()
    this.dropJournal()
    this.finish('removed')
  }

  /** The outcome is unknown: everything stays, for the next run to settle. */
  keep(): void {
    this.journalFile = undefined
    this.finish('kept')
  }

  /** Where the keys are now (the final names, or the temporary ones when kept). */
  abstract describeKept(): string

  /** The run ended before anything was staged: undo what opening the destination made. */
  protected unused(): void {}

  /** Create the temporary file for `name` (never overwriting) and open it for writing. */
  protected abstract openTemp(name: string): number
  /** Make the new entries durable (fsync the folder they are in). */
  protected abstract syncFolder(): void
  protected abstract journalPlace(): Pick<Journal, 'kind' | 'path' | 'pending'>
  protected abstract place(): void
  protected abstract discard(): void

  private dropJournal(): void {
    if (this.journalFile) {
      tryUnlink(this.journalFile)
      // The folders this run made for it go again when empty: a cron run leaves HOME as it found it.
      if (this.madeDirs) {
        for (let d = path.dirname(this.journalFile); d.startsWith(this.madeDirs); d = path.dirname(d)) {
          try {
            rmdirSync(d)
          } catch {
            break
          }
        }
      }
    }
    this.journalFile = undefined
  }

  private finish(outcome: Outcome): void {
    this.phase = 'done'
    unguard(this, outcome)
  }
}

/** One new file (`--key-file`, `--keys-out`, the sealed `--out`): `.NAME.RUN.pending` beside it until the commit. */
export class PendingFile extends Pending {
  readonly pendingPath: string

  constructor(file: string, what: string) {
    const full = path.resolve(file)
    super(full, what)
    this.pendingPath = path.join(path.dirname(full), `.${path.basename(full)}.${this.runId}${PENDING}`)
  }

  protected openTemp(): number {
    if (existsSync(this.path))
      throw new ConflictError(
        `${this.what} ${this.path} appeared meanwhile; it is never overwritten. Nothing was changed.`,
      )
    return openNew(this.pendingPath)
  }

  protected syncFolder(): void {
    fsyncPath(path.dirname(this.path))
  }

  protected journalPlace() {
    return {kind: 'file' as const, path: this.path, pending: this.pendingPath}
  }

  protected place(): void {
    placeFile(this.pendingPath, this.path)
  }

  protected discard(): void {
    tryUnlink(this.pendingPath)
  }

  describeKept(): string {
    return this.pendingPath
  }
}

/** link() never overwrites: a file that appeared at the name keeps the key under its temporary name. */
function placeFile(pending: string, final: string): void {
  try {
    linkSync(pending, final)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && existsSync(final)) return
    throw new ConflictError(
      `${final} could not take the committed key (${(error as NodeJS.ErrnoException).code}); it is kept in ${pending}.`,
    )
  }
  tryUnlink(pending)
  fsyncPath(path.dirname(final))
}

/** A new key directory: created and opened once, every file written and renamed through its descriptor. */
export class PendingDir extends Pending {
  private fd?: number

  /** Whether /proc/self/fd reaches the directory through its descriptor (Linux). */
  private viaFd = false

  private names: string[] = []

  constructor(dir: string) {
    super(path.resolve(dir), 'Key directory')
  }

  /** Create the directory (0700) and open it: before anything else of the run. */
  create(): void {
    try {
      mkdirSync(this.path, {mode: 0o700})
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EEXIST')
        throw new ConflictError(
          `Key directory ${this.path} already exists; it is never reused. Name a new directory.`,
        )
      throw new ValidationError(
        `Cannot create key directory ${this.path} (${code ?? 'error'}); check its parent exists and is writable.`,
      )
    }
    this.fd = openSync(this.path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW)
    this.viaFd = existsSync(`/proc/self/fd/${this.fd}`)
    const st = fstatSync(this.fd)
    if (!st.isDirectory() || (process.getuid && st.uid !== process.getuid()) || (st.mode & 0o077) !== 0) {
      closeSync(this.fd)
      this.fd = undefined
      throw new ValidationError(
        `Key directory ${this.path} changed while it was created; nothing was written.`,
      )
    }
  }

  /** A name inside the directory, reached through its descriptor (Linux), else through its path. */
  private at(name: string): string {
    if (this.fd !== undefined && this.viaFd) return `/proc/self/fd/${this.fd}/${name}`
    return path.join(this.path, name)
  }

  protected openTemp(name: string): number {
    const fd = openNew(this.at(`.${name}${PENDING}`))
    this.names.push(name)
    return fd
  }

  protected syncFolder(): void {
    if (this.fd !== undefined) {
      try {
        fsyncSync(this.fd)
      } catch {}
    }
  }

  protected journalPlace() {
    return {kind: 'dir' as const, path: this.path}
  }

  protected place(): void {
    for (const name of this.names) renameSync(this.at(`.${name}${PENDING}`), this.at(name))
    if (this.fd !== undefined) {
      try {
        fsyncSync(this.fd)
      } catch {}
    }
    this.close()
  }

  protected discard(): void {
    for (const name of this.names) tryUnlink(this.at(`.${name}${PENDING}`))
    this.names = []
    this.close()
    try {
      rmdirSync(this.path)
    } catch {}
  }

  /** Nothing was staged (a failure first, or no key to write): the empty directory goes. */
  protected unused(): void {
    this.close()
    try {
      rmdirSync(this.path)
    } catch {}
  }

  describeKept(): string {
    return `${this.path} (as .NAME.pending)`
  }

  private close(): void {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }
}

/**
 * A new path, in a directory no other user can swap entries in. An
 * interrupted run's key directory passes: the run settles it first
 * (src/ui/pending.ts), then creates it anew or finds it taken.
 */
export async function checkNewPath(given: string, what: string, directory = false): Promise<void> {
  const full = path.resolve(given)
  if (given.trim() === '-' || /^\/(dev|proc|sys)\//.test(full)) {
    throw new ValidationError(
      `${what} ${show(given)}: name a new file path; keys never go to stdout or a device.`,
    )
  }
  let found: Stats | undefined
  try {
    found = lstatSync(full)
  } catch {}
  if (found?.isDirectory() && directory && (await isPendingDestination(full))) return
  if (found?.isDirectory() && !directory)
    throw new ValidationError(`${what} ${full} is an existing directory; name a new path.`)
  if (found)
    throw new ConflictError(`${what} ${full} already exists; it is never overwritten. Name a new path.`)
  const parent = path.dirname(full)
  let dir: Stats
  try {
    dir = statSync(parent)
  } catch {
    throw new ValidationError(`${what} ${full}: the directory ${parent} does not exist.`)
  }
  if (!dir.isDirectory()) throw new ValidationError(`${what} ${full}: ${parent} is not a directory.`)
  if ((dir.mode & 0o002) !== 0 && (dir.mode & 0o1000) === 0) {
    throw new ValidationError(
      `${what} ${full}: ${parent} is writable by every user and has no sticky bit, so another user could swap in a link; use a private directory.`,
    )
  }
  try {
    accessSync(parent, constants.W_OK)
  } catch {
    throw new ValidationError(`${what} ${full}: the directory ${parent} is not writable.`)
  }
}

// --- signals -----------------------------------------------------------------

const SIGNALS: [NodeJS.Signals, number][] = [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
]

const live = new Set<Pending>()
let deferredExit: number | undefined

/** How long an interrupted run waits for an in-flight COMMIT before leaving its files to the next run. */
const COMMIT_WAIT_MS = 10_000

function onSignal(signal: NodeJS.Signals): void {
  const code = SIGNALS.find(([s]) => s === signal)?.[1] ?? 130
  if ([...live].some((p) => p.phase === 'committing')) {
    // COMMIT may be on its way: removing files now could delete committed keys.
    deferredExit = code
    setTimeout(() => {
      writeLine(
        process.stderr,
        `Interrupted while committing: the keys are kept in ${[...live].map((p) => sanitize(p.describeKept())).join(', ')}; the next run on this database settles them.`,
      )
      process.exit(code)
    }, COMMIT_WAIT_MS).unref()
    return
  }
  for (const p of [...live]) p.abort()
  writeLine(process.stderr, 'Interrupted: nothing was changed and no key file was left.')
  process.exit(code)
}

function guard(p: Pending): void {
  if (live.size === 0) for (const [s] of SIGNALS) process.on(s, onSignal)
  live.add(p)
}

function unguard(p: Pending, outcome: Outcome): void {
  if (!live.delete(p)) return
  if (deferredExit !== undefined) {
    writeLine(
      process.stderr,
      outcome === 'placed'
        ? `Interrupted after the commit: the keys are in ${sanitize(p.path)}.`
        : outcome === 'removed'
          ? 'Interrupted: nothing was changed and no key file was left.'
          : `Interrupted: the keys are kept in ${sanitize(p.describeKept())}; the next run on this database settles them.`,
    )
  }
  if (live.size > 0) return
  for (const [s] of SIGNALS) process.removeListener(s, onSignal)
  if (deferredExit !== undefined) process.exit(deferredExit)
}

// --- the next run ------------------------------------------------------------

function readJournal(file: string): Journal | undefined {
  try {
    const j = JSON.parse(readFileSync(file, 'utf8')) as Journal
    const ok =
      j?.version === 1 &&
      typeof j.runId === 'string' &&
      /^[0-9a-f]{16}$/.test(j.runId) &&
      Number.isInteger(j.pid) &&
      typeof j.database === 'string' &&
      typeof j.keyHash === 'string' &&
      typeof j.path === 'string' &&
      path.isAbsolute(j.path) &&
      (j.kind === 'dir' ||
        (j.kind === 'file' &&
          typeof j.pending === 'string' &&
          path.dirname(j.pending) === path.dirname(j.path) &&
          path.basename(j.pending) === `.${path.basename(j.path)}.${j.runId}${PENDING}`))
    return ok ? j : undefined
  } catch {
    return undefined
  }
}

/** The journals of interrupted runs (their process gone). */
async function interruptedRuns(): Promise<{file: string; journal: Journal}[]> {
  const dir = await journalDir()
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const found: {file: string; journal: Journal}[] = []
  for (const name of names) {
    if (!/^[0-9a-f]{16}\.json$/.test(name)) continue
    const file = path.join(dir, name)
    const journal = readJournal(file)
    if (journal && !alive(journal)) found.push({file, journal})
  }
  return found
}

/** Whether a path is the destination of an interrupted run, to be settled once the database is open. */
async function isPendingDestination(p: string): Promise<boolean> {
  const full = path.resolve(p)
  return (await interruptedRuns()).some((r) => r.journal.path === full)
}

function settleDir(j: Journal, committed: boolean): number {
  let names: string[]
  try {
    names = readdirSync(j.path)
  } catch {
    return 0
  }
  let n = 0
  for (const entry of names) {
    const m = /^\.(.+)\.pending$/.exec(entry)
    if (!m) continue
    const from = path.join(j.path, entry)
    try {
      if (committed) renameSync(from, path.join(j.path, m[1]))
      else unlinkSync(from)
      n++
    } catch {
      // Another run settled it meanwhile.
    }
  }
  fsyncPath(j.path)
  if (!committed) {
    try {
      rmdirSync(j.path)
    } catch {}
  }
  return n
}

/**
 * Settle the runs a SIGKILL (or a lost connection) interrupted on this
 * database: committed, their files take their names; not, they are removed.
 * Each settled run gets one line. Runs on other databases are left alone.
 */
export async function settleInterrupted(db: Db, note: (line: string) => void): Promise<void> {
  const runs = await interruptedRuns()
  if (runs.length === 0) return
  const here = await databaseIdentity(db)
  for (const {file, journal: j} of runs) {
    if (j.database !== here) continue
    const committed = await keyHashesStored(db, [j.keyHash])
    const what = `An interrupted '${j.command}' (started ${j.startedAt})`
    if (j.kind === 'dir') {
      const n = settleDir(j, committed)
      note(
        committed
          ? `${what} had committed: its ${n} file(s) now have their names in ${sanitize(j.path)}.`
          : `${what} had not committed: its ${n} unused key file(s) in ${sanitize(j.path)} were removed.`,
      )
    } else if (j.pending && existsSync(j.pending)) {
      if (committed) placeFile(j.pending, j.path)
      else tryUnlink(j.pending)
      note(
        committed
          ? `${what} had committed: its keys are now in ${sanitize(j.path)}.`
          : `${what} had not committed: its unused keys (${sanitize(j.pending)}) were removed.`,
      )
    }
    tryUnlink(file)
  }
}
