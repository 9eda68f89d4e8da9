/**
 * Listings that stream: rows arrive in chunks from the database (db/stream.ts)
 * and are written as they arrive, with backpressure (ui/stdout.ts), in the
 * chosen format, so memory does not depend on the number of rows.
 *
 * - A terminal gets a page: the first PAGE_SIZE rows as a table, then how many
 *   more there are and how to see them (`--limit N`, `--all`), as gh and heroku do.
 * - Pipes (tab-separated), `--json` (one valid JSON array, byte for byte what
 *   JSON.stringify(rows, null, 2) prints), `--jsonl` (one object per line) and
 *   CSV (csv-stringify's stream) get every row unless `--limit` is given.
 */
import {once} from 'node:events'
import {Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {Flags} from '@oclif/core'
import {ListingInterruptedError} from '../errors.js'
import {guardCell} from '../services/csv-guard.js'
import {type CopySource, runCopyListing} from './copy-listing.js'
import {type Column, renderTable, tsvHeader, tsvRow} from './format.js'
import {jsonSafe, sanitize, terminalSafe} from './sanitize.js'
import {type StreamOut, stdout} from './stdout.js'

export const PAGE_SIZE = 100

/** --jsonl and --all, defined once for every listing. */
export const listingFlags = {
  jsonl: Flags.boolean({
    summary: 'One JSON object per line (JSON Lines), streamed; every row unless --limit.',
    exclusive: ['json'],
  }),
  all: Flags.boolean({summary: `On a terminal, show every row instead of the first ${PAGE_SIZE}.`}),
}

export type ListingFormat = 'text' | 'csv' | 'json' | 'jsonl'

export interface ListingPlan {
  format: ListingFormat
  /** Rows shown before "N more" (a terminal without --limit or --all). */
  page?: number
  /** The LIMIT of the query: --limit, or one past the page to learn whether there are more. */
  queryLimit?: number
}

export function planListing(opts: {
  format: ListingFormat
  limit?: number
  all?: boolean
  tty?: boolean
}): ListingPlan {
  const tty = opts.tty ?? Boolean(process.stdout.isTTY)
  if (opts.format === 'text' && tty && opts.limit === undefined && !opts.all) {
    return {format: opts.format, page: PAGE_SIZE, queryLimit: PAGE_SIZE + 1}
  }
  return {format: opts.format, queryLimit: opts.limit}
}

/** Where rows go: written chunk by chunk, then ended (not when the reader has gone). */
export interface Sink<R> {
  write(rows: R[]): Promise<void>
  end(): Promise<void>
  /**
   * The rows stopped coming (the database failed mid-stream): leave what was
   * written usable. JSON closes its array; the others simply stop.
   */
  abort?(): Promise<void>
}

export interface ListingOutcome {
  /** Rows written. */
  rows: number
  /** The page was full and more rows exist. */
  more: boolean
  /** The reader went away (`| head`): stop quietly, exit 0. */
  closed: boolean
}

/**
 * Write chunks to a sink until they run out, the page is full or the reader
 * goes away. Leaving the loop early returns the chunk generator, which
 * cancels the query.
 */
export async function writeListing<R>(
  chunks: AsyncIterable<R[]>,
  sink: Sink<R>,
  opts: {page?: number; out?: StreamOut} = {},
): Promise<ListingOutcome> {
  const out = opts.out ?? stdout()
  let rows = 0
  let more = false
  const iterator = chunks[Symbol.asyncIterator]()
  for (;;) {
    let next: IteratorResult<R[]>
    try {
      next = await iterator.next()
    } catch (error) {
      // The database, not the output, failed: keep what was written usable, then report it.
      if (!out.closed) await sink.abort?.()
      throw new ListingInterruptedError(error, rows)
    }
    if (next.done) break
    let part = next.value
    if (opts.page !== undefined && rows + part.length > opts.page) {
      part = part.slice(0, opts.page - rows)
      more = true
    }
    if (part.length > 0) await sink.write(part)
    rows += part.length
    if (more || out.closed) {
      // Leaving early closes the portal (Close + Sync): the server stops producing rows.
      await iterator.return?.()
      break
    }
  }
  if (!out.closed) await sink.end()
  return {rows, more, closed: out.closed}
}

/** The line under a terminal page. */
export function moreLine(more: number): string {
  return `${more} more; use --limit N or --all to see them.`
}

// ---------------------------------------------------------------------------
// Sinks

function textSink<R>(
  out: StreamOut,
  render: {head?: () => string; rows: (rows: R[]) => string; tail?: () => string},
): Sink<R> {
  let started = false
  const start = async () => {
    if (started) return
    started = true
    if (render.head) await out.write(render.head())
  }
  return {
    async write(rows) {
      await start()
      await out.write(render.rows(rows))
    },
    async end() {
      await start()
      if (render.tail) await out.write(render.tail())
    },
  }
}

/** Tab-separated lines with a header (piped tables); `footer` rows (totals) last. */
export function tsvSink<R>(columns: Column<R>[], opts: {footer?: () => R[]; out?: StreamOut} = {}): Sink<R> {
  const lines = (rows: R[]) => rows.map((r) => `${tsvRow(columns, r)}\n`).join('')
  return textSink(opts.out ?? stdout(), {
    head: () => `${tsvHeader(columns)}\n`,
    rows: lines,
    tail: () => lines(opts.footer?.() ?? []),
  })
}

/**
 * A terminal table: rows rendered PAGE_SIZE at a time (the page is one
 * table; --all on a terminal prints one table per PAGE_SIZE rows), `footer`
 * rows (totals) in the last table, `empty` when there are no rows at all.
 */
export function tableSink<R>(
  columns: Column<R>[],
  opts: {footer?: () => R[]; empty?: string; out?: StreamOut} = {},
): Sink<R> {
  const out = opts.out ?? stdout()
  let pending: R[] = []
  let any = false
  return {
    async write(rows) {
      any ||= rows.length > 0
      for (const r of rows) {
        pending.push(r)
        if (pending.length === PAGE_SIZE) {
          await out.write(`${renderTable(pending, columns)}\n`)
          pending = []
        }
      }
    },
    async end() {
      if (!any && opts.empty !== undefined) {
        await out.write(`${opts.empty}\n`)
        return
      }
      const footer = opts.footer?.() ?? []
      if (pending.length > 0 || footer.length > 0 || !any) {
        await out.write(`${renderTable([...pending, ...footer], columns)}\n`)
      }
    },
  }
}

/** One line per row (e.g. a userId per line), sanitised: a value never starts another line. */
export function lineSink<R>(line: (r: R) => string, opts: {out?: StreamOut} = {}): Sink<R> {
  return textSink(opts.out ?? stdout(), {
    rows: (rows) => rows.map((r) => `${sanitize(line(r))}\n`).join(''),
  })
}

/** JSON Lines: one compact object per line. */
export function jsonlSink<R>(toJson: (r: R) => unknown = (r) => r, opts: {out?: StreamOut} = {}): Sink<R> {
  return textSink(opts.out ?? stdout(), {
    rows: (rows) => rows.map((r) => `${jsonSafe(JSON.stringify(toJson(r)))}\n`).join(''),
  })
}

const MARK = '\u0000openmemory-rows\u0000'

/** jsonSink's wrapping: the array is the `key` property of an object with `head` before it and `tail` after. */
export interface JsonWrap {
  head: Record<string, unknown>
  key: string
  tail?: () => Record<string, unknown>
}

/**
 * The text around a streamed JSON array's elements, byte for byte what
 * `JSON.stringify(value, null, 2)` prints around them: `open`, then each
 * element after `\n` (the first) or `,\n` and `inner`, its lines after the
 * first indented by `inner`; `close(count)` ends it (computed last, for totals).
 */
export function jsonFrame(wrap?: JsonWrap): {open: string; inner: string; close: (count: number) => string} {
  const quoted = JSON.stringify(MARK)
  const split = (value: unknown): [string, string] => {
    const text = jsonSafe(JSON.stringify(value, null, 2))
    const at = text.indexOf(quoted)
    return [text.slice(0, at), text.slice(at + quoted.length)]
  }
  const before = wrap ? split({...wrap.head, [wrap.key]: MARK})[0] : ''
  const indent = wrap ? '  ' : ''
  return {
    open: `${before}[`,
    inner: `${indent}  `,
    close(count) {
      const end = count === 0 ? ']' : `\n${indent}]`
      const after = wrap ? split({[wrap.key]: MARK, ...wrap.tail?.()})[1] : ''
      return `${end}${after}\n`
    },
  }
}

/**
 * A JSON array, streamed, byte for byte what `JSON.stringify(value, null, 2)`
 * and a newline print (oclif's --json output). With `wrap`, the array is the
 * `key` property of an object whose other properties come before it (`head`)
 * and after it (`tail`, computed once every row is written, e.g. totals).
 */
export function jsonSink<R>(
  toJson: (r: R) => unknown = (r) => r,
  opts: {wrap?: JsonWrap; out?: StreamOut} = {},
): Sink<R> {
  const frame = jsonFrame(opts.wrap)
  const {inner} = frame
  let count = 0
  const sink = textSink<R>(opts.out ?? stdout(), {
    head: () => frame.open,
    rows(rows) {
      let text = ''
      for (const r of rows) {
        const lines = jsonSafe(JSON.stringify(toJson(r), null, 2)).replaceAll('\n', `\n${inner}`)
        text += `${count === 0 ? '\n' : ',\n'}${inner}${lines}`
        count++
      }
      return text
    },
    tail: () => frame.close(count),
  })
  // Interrupted: the array (and its wrapping) is closed, so the output stays one valid document.
  return {...sink, abort: sink.end}
}

/**
 * CSV through csv-stringify's stream API (RFC 4180 quoting), piped to stdout
 * with backpressure at both ends. Safe for spreadsheets: the one formula
 * guard (csv-guard.ts) prefixes a risky cell with `'`, which `users import`
 * takes off again; `raw` writes cells exactly. Exact in
 * a pipe or file; on a terminal (`terminal`), control and bidi characters are
 * shown escaped like any human-facing output.
 */
export async function csvSink<R>(
  columns: readonly string[],
  record: (r: R) => Record<string, unknown>,
  opts: {out?: StreamOut; raw?: boolean; terminal?: boolean} = {},
): Promise<Sink<R>> {
  const out = opts.out ?? stdout()
  const {stringify} = await import('csv-stringify')
  const stringifier = stringify({
    header: true,
    columns: [...columns],
    record_delimiter: 'unix',
    // A cell holding a carriage return is quoted too (RFC 4180), as PostgreSQL's CSV quotes it.
    quote_record_delimiter: true,
    cast: {string: (value: string) => (opts.raw ? value : guardCell(value))},
  })
  const shown = (text: string) => (opts.terminal ? terminalSafe(text) : text)
  const target = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      out.write(shown(chunk.toString())).then(
        (open) => callback(open ? null : new ReaderGoneError()),
        (error: Error) => callback(error),
      )
    },
  })
  const done = pipeline(stringifier, target).catch((error: unknown) => {
    if (!(error instanceof ReaderGoneError)) throw error
  })
  return {
    async write(rows) {
      for (const r of rows) {
        if (out.closed) return
        if (!stringifier.write(record(r))) {
          // A reader that goes away destroys the stringifier (pipeline): stop waiting, quietly.
          await Promise.race([once(stringifier, 'drain').catch(() => {}), done])
        }
      }
    },
    async end() {
      stringifier.end()
      await done
    },
    // Interrupted: the records already made are flushed; nothing is added.
    async abort() {
      stringifier.end()
      await done
    },
  }
}

class ReaderGoneError extends Error {
  constructor() {
    super('stdout closed')
  }
}

/** What a listing command says about its rows; `runListing` does the rest. */
export interface Listing<R> {
  /** --json / --jsonl / --limit / --all as parsed (listingFlags plus the base --json). */
  json: boolean
  flags: {jsonl?: boolean; limit?: number; all?: boolean}
  /** A format the command adds (`users list --format csv`), instead of text. */
  format?: ListingFormat
  /** The table's columns (a function when they depend on what `rows` found, e.g. the memory states). */
  columns: Column<R>[] | (() => Column<R>[])
  /** What a terminal shows when there are no rows. */
  empty?: string
  /** Rows under the table (totals). */
  footer?: () => R[]
  /** A sink of the command's own for a format (its JSON wrapping, CSV, ui-profile); else the standard one. */
  sink?: (format: ListingFormat) => Sink<R> | Promise<Sink<R>> | undefined
  /** The rows, for the plan's query limit (called first, before the sink is chosen). */
  rows: (plan: ListingPlan) => AsyncIterable<R[]> | Promise<AsyncIterable<R[]>>
  /**
   * On PostgreSQL, the machine formats made by the database and streamed as
   * bytes (ui/copy-listing.ts), for every format it gives a statement for;
   * a terminal always gets the row path (copyListing).
   */
  copy?: CopySource
  /** How many rows there are without a limit (only asked for a terminal's "N more"). */
  count: () => Promise<number>
  /** Where the "N more" line goes. */
  log: (line: string) => void
}

/**
 * The COPY path when it applies: every row wanted (no terminal page), not a
 * terminal, and a statement for the format; undefined otherwise (the row
 * path). OPENMEMORY_LISTING_PATH=rows takes the row path everywhere (the
 * tests compare both); =copy fails a listing that would not take COPY.
 */
export async function copyListing(
  copy: CopySource | undefined,
  plan: ListingPlan,
): Promise<ListingOutcome | undefined> {
  const path = process.env.OPENMEMORY_LISTING_PATH
  if (path === 'rows' || plan.page !== undefined || process.stdout.isTTY) return undefined
  const statement = await copy?.statement(plan.format, plan.queryLimit)
  if (copy && statement) return runCopyListing(copy, plan.format, statement)
  if (path === 'copy') throw new Error(`no COPY statement for this listing as ${plan.format}`)
  return undefined
}

/**
 * The one listing path: plan (terminal page or every row), choose the sink
 * (JSON, JSON Lines, CSV, a terminal table, tab-separated text in a pipe),
 * stream the rows, and say how many more there are.
 */
export async function runListing<R>(listing: Listing<R>): Promise<ListingOutcome> {
  const {flags} = listing
  const plan = planListing({
    format: listing.json ? 'json' : flags.jsonl ? 'jsonl' : (listing.format ?? 'text'),
    limit: flags.limit,
    all: flags.all,
  })
  const copied = await copyListing(listing.copy, plan)
  if (copied) return copied
  const rows = await listing.rows(plan)
  const columns = typeof listing.columns === 'function' ? listing.columns() : listing.columns
  const own = await listing.sink?.(plan.format)
  const sink: Sink<R> =
    own ??
    (plan.format === 'json'
      ? jsonSink()
      : plan.format === 'jsonl'
        ? jsonlSink()
        : process.stdout.isTTY
          ? tableSink(columns, {empty: listing.empty, footer: listing.footer})
          : tsvSink(columns, {footer: listing.footer}))
  const r = await writeListing(rows, sink, {page: plan.page})
  if (r.more) listing.log(moreLine((await listing.count()) - r.rows))
  return r
}
