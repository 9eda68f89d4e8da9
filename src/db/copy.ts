/**
 * Listings as bytes the database makes: `COPY (statement) TO STDOUT`,
 * streamed through postgres.js (`.readable()`), so that for the machine
 * formats Node moves buffers instead of building, mapping and serialising an
 * object per row (db/stream.ts is the row path: terminal pages, the menu).
 *
 * COPY takes no bind parameters, so the statement's parameters are written
 * into it as literals (`inlineStatement`): numbers as numbers, everything
 * else as an escape string literal (E'…', backslash and quote escaped), which
 * PostgreSQL reads the same whatever standard_conforming_strings says.
 *
 * Leaving the loop early (the reader went away) cancels the statement on the
 * server and reads what was already on its way, so the connection is usable
 * and closes at once.
 */
import type {Readable} from 'node:stream'
import type {SQL} from 'drizzle-orm'
import type {Db} from './client.js'
import {quoteText} from './format-sql.js'
import {readOnlySession, sqlText, within} from './stream.js'

/** `csv`: PostgreSQL's CSV with a header line. `binary`: tuples of fields, read with `tuples`. */
export type CopyFormat = 'csv' | 'binary'

export type CopyReader = (query: SQL, format: CopyFormat) => AsyncGenerator<Buffer>

interface PendingCopy {
  readable(): Promise<Readable>
  cancel(): unknown
  active: boolean
}

type Unsafe = (q: string, p?: never[]) => unknown

/** The COPY statement that streams `query` in `format`. */
export function copyStatement(db: Db, query: SQL, format: CopyFormat): string {
  const options = format === 'csv' ? '(format csv, header)' : '(format binary)'
  return `copy (${inlineStatement(db, query)}) to stdout with ${options}`
}

/** postgres.js, directly connected. */
export function postgresCopy(client: {unsafe: Unsafe}, db: Db): CopyReader {
  return (query, format) => readCopy(client.unsafe(copyStatement(db, query, format)) as PendingCopy)
}

/**
 * Behind a pooler: in a read-only transaction whose first statement bounds
 * its lock waits, which keeps the pooler's server session for the whole read
 * (as pooledCursor does).
 */
export function pooledCopy(
  client: Parameters<typeof readOnlySession>[0],
  db: Db,
  setLocal: string,
): CopyReader {
  return (query, format) => {
    const text = copyStatement(db, query, format)
    // The rollback waits as long as a cancelled COPY's end (a connection still busy is left to close).
    return readOnlySession(
      client,
      setLocal,
      (conn) => readCopy(conn.unsafe(text) as PendingCopy),
      CANCEL_WAIT_MS,
    )
  }
}

/** How long the end of a cancelled COPY is waited for before the connection is left to close. */
const CANCEL_WAIT_MS = 2000

async function* readCopy(pending: PendingCopy): AsyncGenerator<Buffer> {
  const stream = await pending.readable()
  let finished = false
  try {
    // Not destroyed when the loop is left: the rest of the COPY is read below, so the driver's
    // socket keeps flowing and the connection ends its statement.
    for await (const chunk of stream.iterator({destroyOnReturn: false})) yield chunk as Buffer
    finished = true
  } finally {
    if (!finished && !stream.readableEnded && !stream.destroyed) {
      // The reader went away (or the caller failed): stop the server, then read what was
      // already sent until the cancellation's error ends the stream, within a bound.
      // postgres.js marks a COPY's query inactive once its stream is handed over, and cancel()
      // then only flags it: mark it active again so that the CancelRequest is sent.
      pending.active = true
      Promise.resolve(pending.cancel()).catch(() => {})
      const ended = new Promise<void>((resolve) => {
        stream.once('end', resolve)
        stream.once('error', () => resolve())
        stream.once('close', resolve)
      })
      stream.resume()
      await within(CANCEL_WAIT_MS, ended)
    }
    resumeSocket(stream)
  }
}

/**
 * postgres.js 3.4.9 pauses its socket when the COPY stream's buffer is full
 * and resumes it only when the stream is read again; when the last CopyData
 * and CopyDone arrive in one chunk, the stream ends with the socket paused
 * and the connection's next statement waits forever (porsager/postgres#1016,
 * not released). Asking the stream for more (its read is `socket.resume()`)
 * once it has ended lets the connection go on; harmless when it is flowing.
 */
function resumeSocket(stream: Readable): void {
  try {
    ;(stream as unknown as {_read(size: number): void})._read(0)
  } catch {
    // The connection has closed: nothing to resume.
  }
}

/**
 * The statement's text with its parameters written in as literals (COPY
 * takes none). Only strings, finite numbers, booleans and null occur in the
 * tool's statements; anything else is a programming error.
 */
export function inlineStatement(db: Db, query: SQL): string {
  const {sql: text, params} = sqlText(db, query)
  return text.replace(/\$(\d+)/g, (_, n: string) => sqlLiteral(params[Number(n) - 1]))
}

export function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`)
    return `(${value})`
  }
  if (typeof value === 'bigint') return `(${value})`
  if (typeof value === 'string') {
    if (value.includes('\u0000')) throw new Error('a NUL character cannot be sent to PostgreSQL')
    return quoteText(value)
  }
  throw new Error(`cannot write a ${typeof value} into a COPY statement`)
}

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1')

/**
 * Tuples of a binary COPY, without an object per row or field: `cells`
 * holds, for each of `count` tuples, its field count, then each field's
 * start and end in `bytes` (-1, -1 for SQL NULL). Valid until the next batch
 * is asked for (the arrays are reused).
 */
export interface Tuples {
  bytes: Buffer
  cells: Int32Array
  count: number
}

/**
 * The tuples of a binary COPY stream in batches, one per chunk the driver
 * gives (a tuple cut between chunks is carried over). The format: a 19-byte
 * header (signature, flags, extension length), then per tuple an int16 field
 * count and per field an int32 length (-1: NULL) and its bytes; an int16 -1
 * ends it.
 */
export async function* tupleBatches(chunks: AsyncIterable<Buffer>): AsyncGenerator<Tuples> {
  let carry: Buffer | undefined
  let headerDone = false
  let ended = false
  let cells = new Int32Array(4096)
  for await (const chunk of chunks) {
    const bytes = carry ? Buffer.concat([carry, chunk]) : chunk
    carry = undefined
    let pos = 0
    if (!headerDone) {
      if (bytes.length < 19) {
        carry = bytes
        continue
      }
      if (!bytes.subarray(0, 11).equals(SIGNATURE)) throw new Error('not a binary COPY stream')
      pos = 19 + bytes.readInt32BE(15)
      headerDone = true
    }
    let used = 0
    let count = 0
    while (!ended && pos + 2 <= bytes.length) {
      const fields = bytes.readInt16BE(pos)
      if (fields === -1) {
        ended = true
        pos += 2
        break
      }
      if (cells.length < used + 1 + 2 * fields) {
        const bigger = new Int32Array(Math.max(cells.length * 2, used + 1 + 2 * fields))
        bigger.set(cells.subarray(0, used))
        cells = bigger
      }
      let p = pos + 2
      let k = used + 1
      let complete = true
      for (let i = 0; i < fields; i++) {
        if (p + 4 > bytes.length) {
          complete = false
          break
        }
        const len = bytes.readInt32BE(p)
        p += 4
        if (len === -1) {
          cells[k++] = -1
          cells[k++] = -1
          continue
        }
        if (p + len > bytes.length) {
          complete = false
          break
        }
        cells[k++] = p
        cells[k++] = p + len
        p += len
      }
      if (!complete) break
      cells[used] = fields
      used = k
      count++
      pos = p
    }
    if (!ended && pos < bytes.length) carry = bytes.subarray(pos)
    if (count > 0) yield {bytes, cells, count}
  }
  if (!ended) throw new Error('the binary COPY stream ended early')
}
