/**
 * The one bulk-key job (`users import`, `keys rotate --older-than`): one run
 * at a time (the run lock, released afterwards), the key destination opened
 * before the change, a progress bar, the keys written and fsynced under
 * temporary names before the transaction and named after its commit
 * (src/ui/pending.ts), everything written removed if it fails, and a summary
 * with where the keys went.
 */
import {type Database, withRunLock} from '../db/client.js'
import {CommitUnknownError} from '../errors.js'
import type {ServiceContext} from '../services/context.js'
import type {IssuedKey} from '../services/keys.js'
import {
  assertDestination,
  checkDestination,
  type DeliveryFlags,
  type Destination,
  openBulkSink,
} from '../ui/bulk-keys.js'
import type {FlowIO} from './io.js'

/** The run lock shared by the bulk key commands, and what a second run is told. */
export const BULK_LOCK = 'bulk-keys'
export const BULK_BUSY =
  'Another bulk run (users import or keys rotate --older-than) holds the lock on this database; try again when it has finished.'

/** What every bulk run takes besides its own input. */
export interface BulkInput {
  dryRun?: boolean
  keyLength?: number
  /** Where the keys go: --key-dir, --keys-out, --seal-to with --out (or, on a terminal, the screen). */
  delivery: DeliveryFlags
  /** When the run started (ms), for durationMs. */
  started: number
}

/** A bulk flow: the database is opened only once the input has passed its checks. */
export type BulkFlow<I extends BulkInput, R> = (
  io: FlowIO,
  open: () => Promise<Database>,
  input: I,
  ctx: ServiceContext,
) => Promise<R>

/**
 * A bulk run's first check, before its input is read or the database opened:
 * a real run needs a key destination (exit 2 names the flags), a dry run none;
 * a destination given is checked the same way for both.
 */
export async function requireDestination(io: FlowIO, input: BulkInput, action: string): Promise<boolean> {
  await frugalHeap()
  const dryRun = input.dryRun === true
  if (!dryRun) assertDestination(input.delivery, io.json, action)
  await checkDestination(input.delivery)
  return dryRun
}

/**
 * A bulk run streams its rows but makes much short-lived garbage per batch,
 * and V8 lets the heap grow to several times what is live before collecting
 * it. Its memory-saving mode (`--optimize-for-size`, which NODE_OPTIONS does
 * not accept) collects sooner: a 100,000-row import peaks near 145 MiB
 * instead of 230 (bench/import.ts prints it), at the same speed.
 */
async function frugalHeap(): Promise<void> {
  const v8 = await import('node:v8')
  v8.setFlagsFromString('--optimize-for-size')
}

export interface BulkHooks {
  onStart: (total: number) => void
  onProgress: (done: number) => void
  /** Write keys under temporary names before the transaction opens (one batch per call)... */
  stage: (keys: IssuedKey[]) => Promise<void>
  /** ...and fsync them once every batch is written. */
  staged: () => Promise<void>
  /** Called just before COMMIT is sent. */
  committing: () => void
}

export interface BulkJob<T> {
  /** The progress bar's label ("Importing"). */
  label: string
  /** The command, as a settled interrupted run is named ("users import"). */
  command: string
  delivery: DeliveryFlags
  /** The change, in one transaction, calling the hooks. */
  run(hooks: BulkHooks): Promise<T>
  /** How many keys the change issued, and the line that says what it did. */
  done(result: T, seconds: string): {keys: number; summary: string}
}

export async function runBulkJob<T>(
  io: FlowIO,
  database: Database,
  job: BulkJob<T>,
  started: number,
): Promise<{result: T; destination: Destination | null; durationMs: number}> {
  return withRunLock(database, BULK_LOCK, BULK_BUSY, async () => {
    const sink = await openBulkSink(job.delivery)
    const bar = await io.progress(job.label)
    let result: T
    let count = 0
    try {
      result = await job.run({
        onStart: (n) => {
          count = n
          bar.start(n)
        },
        onProgress: (n) => bar.update(n),
        stage: (keys) => sink.stage(keys, {db: database.db, command: job.command, count}),
        staged: () => sink.staged(),
        committing: () => sink.committing(),
      })
    } catch (error) {
      bar.stop()
      if (!(error instanceof CommitUnknownError)) {
        sink.abort()
        throw error
      }
      // COMMIT's outcome unknown: the keys may be the only working ones, so they stay (shown on a terminal).
      const kept = sink.keep()
      if (kept === null) sink.report(io)
      throw error.keptIn(kept)
    }
    bar.stop()
    await sink.commit()
    const durationMs = Date.now() - started
    const {keys, summary} = job.done(result, (durationMs / 1000).toFixed(1))
    io.note(summary)
    if (keys === 0) {
      sink.abort()
      return {result, destination: null, durationMs}
    }
    sink.report(io)
    return {result, destination: sink.destination, durationMs}
  })
}
