/**
 * The machine formats of a listing as bytes PostgreSQL makes (db/copy.ts):
 * Node frames and copies buffers instead of building an object per row.
 * What each format needs from Node is only what the row path's sinks
 * (ui/listing.ts) do on top of the text:
 *
 * - CSV: PostgreSQL's CSV with its header, formula guard and empty cells in
 *   the statement (format-sql.ts, csv-guard.ts); written as it comes.
 * - JSON / JSON Lines: one text field per row, the row's JSON; Node writes
 *   the array's brackets and separators, and escapes what `jsonSafe` escapes
 *   (only bytes of DEL and above can need it, so ASCII buffers pass as they are).
 * - Tab-separated text: the table's cells as text fields; a cell of printable
 *   ASCII is copied, any other goes through the one sanitiser.
 */
import {isAscii} from 'node:buffer'
import type {SQL} from 'drizzle-orm'
import {type CopyReader, tupleBatches} from '../db/copy.js'
import {ListingInterruptedError} from '../errors.js'
import {type JsonWrap, jsonFrame, type ListingFormat, type ListingOutcome} from './listing.js'
import {jsonSafe, sanitize} from './sanitize.js'
import {type StreamOut, stdout} from './stdout.js'

/** What a listing gives for the COPY path, per format (undefined: the row path). */
export interface CopySource {
  read: CopyReader
  /**
   * The statement for a format and LIMIT: CSV's columns (their names are the
   * header), one JSON text field per row (JSON, JSON Lines), or the cells of
   * a tab-separated line.
   */
  statement: (format: ListingFormat, limit: number | undefined) => SQL | undefined | Promise<SQL | undefined>
  /** Tab-separated text's header line (without its newline); none when absent (a plain list). */
  tsvHeader?: string
  /** Cells of JSON text, shown as `JSON.stringify` writes the value (null as {}). */
  jsonCells?: number[]
  /** Lines under tab-separated text (totals, sanitised), given the sums of the `sums` cells over every row. */
  footer?: {sums: number[]; lines: (sums: number[]) => string}
  /** --json: the array's wrapping (jsonSink's wrap). */
  jsonWrap?: JsonWrap
}

const FLUSH_AT = 64 * 1024

/** Bytes gathered into blocks of about 64 KiB, each written with backpressure. */
class Blocks {
  private buf = Buffer.allocUnsafe(FLUSH_AT * 2)
  private pos = 0

  constructor(
    private readonly out: StreamOut,
    private readonly finish: (block: Buffer) => Buffer | string = (b) => b,
  ) {}

  put(bytes: Uint8Array): void {
    this.room(bytes.length)
    this.buf.set(bytes, this.pos)
    this.pos += bytes.length
  }

  range(bytes: Buffer, start: number, end: number): void {
    this.room(end - start)
    this.pos += bytes.copy(this.buf, this.pos, start, end)
  }

  text(text: string): void {
    this.room(Buffer.byteLength(text))
    this.pos += this.buf.write(text, this.pos)
  }

  /** Where the next byte goes: give it to `back` to take back what was written since. */
  mark(): number {
    return this.pos
  }

  back(mark: number): void {
    this.pos = mark
  }

  byte(b: number): void {
    this.room(1)
    this.buf[this.pos++] = b
  }

  get full(): boolean {
    return this.pos >= FLUSH_AT
  }

  async flush(): Promise<boolean> {
    if (this.pos === 0) return !this.out.closed
    const block = this.buf.subarray(0, this.pos)
    this.buf = Buffer.allocUnsafe(FLUSH_AT * 2)
    this.pos = 0
    return this.out.write(this.finish(block))
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n))
    this.buf.copy(bigger, 0, 0, this.pos)
    this.buf = bigger
  }
}

/** A block as `jsonSafe` leaves it: the same bytes when nothing in it can need an escape. */
function jsonSafeBlock(block: Buffer): Buffer | string {
  if (isAscii(block) && block.indexOf(0x7f) === -1) return block
  return jsonSafe(block.toString('utf8'))
}

/** Is every byte in [start, end) printable ASCII (what `sanitize` leaves as it is)? */
function printable(b: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = b[i] as number
    if (c < 0x20 || c > 0x7e) return false
  }
  return true
}

const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const QUOTE = 0x22
const BACKSLASH = 0x5c
const SPACE = 0x20
/** Containers deeper than this take the slow path. */
const MAX_DEPTH = 64
const inObject = new Uint8Array(MAX_DEPTH)

/**
 * PostgreSQL's jsonb text (`{"a": 1, "b": [true, null]}`) written as
 * `JSON.stringify(JSON.parse(text))` writes it, straight into the block: the
 * spaces jsonb puts after `:` and `,` left out. False, with nothing written,
 * where JavaScript could write it otherwise or the sanitiser has work: a
 * byte that is not printable ASCII, a key that is an array index (JavaScript
 * lists those first), a number that is not an integer of at most 15 digits,
 * a top-level null (shown as {}), or deep nesting. Within strings, jsonb's
 * escapes of ASCII are JSON.stringify's.
 */
function compactJson(b: Buffer, start: number, end: number, blocks: Blocks): boolean {
  const mark = blocks.mark()
  const fail = () => {
    blocks.back(mark)
    return false
  }
  if (b[start] === 0x6e) return fail() // null
  let depth = 0
  let expectKey = false
  let i = start
  while (i < end) {
    const c = b[i] as number
    if (c < SPACE || c > 0x7e) return fail()
    if (c === QUOTE) {
      let j = i + 1
      for (; j < end; j++) {
        const d = b[j] as number
        if (d < SPACE || d > 0x7e) return fail()
        if (d === BACKSLASH) j++
        else if (d === QUOTE) break
      }
      if (expectKey && indexLike(b, i + 1, j)) return fail()
      blocks.range(b, i, j + 1)
      i = j + 1
      expectKey = false
      continue
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i
      while (j < end && numberByte(b[j] as number)) j++
      if (!plainInteger(b, i, j)) return fail()
      blocks.range(b, i, j)
      i = j
      continue
    }
    i++
    if (c === SPACE) continue
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (depth === MAX_DEPTH) return fail()
      inObject[depth++] = c === OPEN_OBJECT ? 1 : 0
      expectKey = c === OPEN_OBJECT
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--
      expectKey = false
    } else if (c === 0x2c) expectKey = depth > 0 && inObject[depth - 1] === 1
    else if (c === 0x3a) expectKey = false
    blocks.byte(c)
  }
  return true
}

/** A byte of a JSON number: digits, sign, point, exponent. */
function numberByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45
}

/** Digits without a leading zero, or "0": a key JavaScript orders as an array index (or might). */
function indexLike(b: Buffer, start: number, end: number): boolean {
  if (end === start || end - start > 10) return false
  if (b[start] === 0x30 && end - start > 1) return false
  for (let i = start; i < end; i++) {
    const c = b[i] as number
    if (c < 0x30 || c > 0x39) return false
  }
  return true
}

/** 0, or an integer of 1 to 15 digits without a leading zero: one JavaScript writes back the same. */
function plainInteger(b: Buffer, start: number, end: number): boolean {
  let i = start
  if (b[i] === 0x2d) i++
  const digits = end - i
  if (digits < 1 || digits > 15) return false
  if (b[i] === 0x30) return digits === 1 && i === start
  for (; i < end; i++) {
    const c = b[i] as number
    if (c < 0x30 || c > 0x39) return false
  }
  return true
}

/** A cell's digits as a number (a count PostgreSQL wrote). */
function integer(b: Buffer, start: number, end: number): number {
  let n = 0
  for (let i = start; i < end; i++) n = n * 10 + ((b[i] as number) - 0x30)
  return n
}

/**
 * Stream one listing through COPY to stdout. The JSON array is closed when
 * the database fails mid-stream (as jsonSink does); a reader that goes away
 * cancels the statement.
 */
export async function runCopyListing(
  source: CopySource,
  format: ListingFormat,
  statement: SQL,
  opts: {out?: StreamOut} = {},
): Promise<ListingOutcome> {
  const out = opts.out ?? stdout()
  let rows = 0
  const chunks = source.read(statement, format === 'csv' ? 'csv' : 'binary')
  const json = format === 'json' || format === 'jsonl'
  const blocks = new Blocks(out, json ? jsonSafeBlock : undefined)
  const frame = jsonFrame(source.jsonWrap)
  const jsonCell = new Set(source.jsonCells ?? [])
  const summed = source.footer?.sums ?? []
  const sums = summed.map(() => 0)
  const TAB = 0x09
  const NL = 0x0a
  const close = async () => {
    if (format === 'json') blocks.text(frame.close(rows))
    else if (format === 'text' && source.footer) blocks.text(source.footer.lines(sums))
    await blocks.flush()
  }
  try {
    if (format === 'csv') {
      // Records are counted as they pass (a line break outside quotes ends one; the header is one).
      let quoted = false
      let records = 0
      for await (const chunk of chunks) {
        for (let i = 0; i < chunk.length; i++) {
          const c = chunk[i] as number
          if (c === QUOTE) quoted = !quoted
          else if (c === NL && !quoted) records++
        }
        rows = Math.max(0, records - 1)
        blocks.put(chunk)
        if (blocks.full && !(await blocks.flush())) break
      }
    } else {
      if (format === 'json') blocks.text(frame.open)
      else if (format === 'text' && source.tsvHeader !== undefined) blocks.text(`${source.tsvHeader}\n`)
      const first = `\n${frame.inner}`
      const next = `,\n${frame.inner}`
      for await (const {bytes, cells, count} of tupleBatches(chunks)) {
        let k = 0
        for (let t = 0; t < count; t++) {
          const fields = cells[k++] as number
          if (format === 'text') {
            for (let i = 0; i < fields; i++) {
              const start = cells[k++] as number
              const end = cells[k++] as number
              if (i > 0) blocks.byte(TAB)
              if (start < 0) continue
              if (jsonCell.has(i)) {
                if (!compactJson(bytes, start, end, blocks))
                  blocks.text(sanitize(JSON.stringify(JSON.parse(bytes.toString('utf8', start, end)) ?? {})))
              } else if (printable(bytes, start, end)) blocks.range(bytes, start, end)
              else blocks.text(sanitize(bytes.toString('utf8', start, end)))
              const sum = summed.indexOf(i)
              if (sum >= 0) sums[sum] = (sums[sum] as number) + integer(bytes, start, end)
            }
            blocks.byte(NL)
          } else {
            const start = cells[k] as number
            const end = cells[k + 1] as number
            k += 2 * fields
            if (format === 'json') blocks.text(rows === 0 ? first : next)
            if (start < 0) blocks.text('null')
            else blocks.range(bytes, start, end)
            if (format === 'jsonl') blocks.byte(NL)
          }
          rows++
        }
        if (blocks.full && !(await blocks.flush())) break
      }
    }
  } catch (error) {
    // The database, not the output, failed: keep what was written usable (JSON closed), then report it.
    if (!out.closed) {
      if (format === 'json') blocks.text(frame.close(rows))
      await blocks.flush()
    }
    throw new ListingInterruptedError(error, rows)
  }
  if (!out.closed) await close()
  return {rows, more: false, closed: out.closed}
}
