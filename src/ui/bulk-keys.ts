/**
 * Where the keys of a bulk run go (`users import`, `keys rotate --older-than`):
 * exactly one of a new 0700 directory of 0600 `<userId>.key` files, a 0600
 * CSV of `userId,apiKey`, or that CSV sealed with age for a recipient, so the
 * plain keys never touch the disk. On a terminal (and not under --json) the
 * keys may instead be shown once; they are never printed to a pipe.
 *
 * The destination is checked before the database is touched (a path problem
 * writes nothing); the files are written, fsynced, under temporary names
 * before the transaction opens and take their names after its commit
 * (src/ui/pending.ts).
 */
import {createHash} from 'node:crypto'
import {closeSync, constants, existsSync, fstatSync, openSync, readSync} from 'node:fs'
import path from 'node:path'
import {Flags} from '@oclif/core'
import type {Db} from '../db/client.js'
import {MissingInputError, ValidationError} from '../errors.js'
import {guardCell} from '../services/csv-guard.js'
import {hashKey, type IssuedKey} from '../services/keys.js'
import {show} from '../services/validation.js'
import {colors, renderTable} from './format.js'
import {mcpTarget} from './key-output.js'
import type {Output} from './output.js'
import {checkNewPath, type Pending, PendingDir, PendingFile} from './pending.js'
import {mcpConfig} from './secrets.js'

export const deliveryFlags = {
  'key-dir': Flags.string({
    summary: 'Write one 0600 <userId>.key file per user into this new directory (created 0700).',
    description: 'The directory must not exist: an existing one is refused.',
    exclusive: ['keys-out', 'seal-to'],
    helpGroup: 'KEY DELIVERY',
  }),
  'keys-out': Flags.string({
    summary: 'Write a new 0600 CSV file of userId,apiKey.',
    exclusive: ['key-dir', 'seal-to'],
    helpGroup: 'KEY DELIVERY',
  }),
  'seal-to': Flags.string({
    summary:
      'Encrypt the userId,apiKey CSV with age for this recipient (age1...), or the recipients in this file.',
    description: "Read it back with 'age -d -i key.txt FILE'. The plain keys are never written to disk.",
    exclusive: ['key-dir', 'keys-out'],
    dependsOn: ['out'],
    helpGroup: 'KEY DELIVERY',
  }),
  out: Flags.string({
    summary: 'The sealed file to create (with --seal-to).',
    dependsOn: ['seal-to'],
    helpGroup: 'KEY DELIVERY',
  }),
}

export interface DeliveryFlags {
  'key-dir'?: string
  'keys-out'?: string
  'seal-to'?: string
  out?: string
  'mcp-config'?: boolean
  'api-url'?: string
  'mcp-client'?: string
}

export type Destination =
  | {kind: 'key-dir'; path: string}
  | {kind: 'keys-out'; path: string}
  | {kind: 'sealed'; path: string; recipients: number}
  | {kind: 'terminal'; path: null}

/** The run that stages keys: its database, its command, and how many keys it makes in all. */
export interface StageRun {
  db: Db
  command: string
  count: number
}

export interface BulkKeySink {
  destination: Destination
  /**
   * Write keys (and their MCP configs) under temporary names: before the
   * transaction opens, one batch per call (nothing of earlier batches is held).
   */
  stage(keys: IssuedKey[], run: StageRun): Promise<void>
  /** Every batch is staged: fsync. */
  staged(): Promise<void>
  /** COMMIT may now be sent. */
  committing(): void
  /** The transaction committed: the files take their names. */
  commit(): Promise<void>
  /** Remove what was written: the change failed (or made no key). */
  abort(): void
  /** The commit's outcome is unknown: keep everything for the next run to settle; where it is. */
  keep(): string | null
  /** After the commit: tell a human where the keys went (on a terminal: show them, once). */
  report(out: Output): void
}

/**
 * Fail before any database work (exit 2) when no destination is given and
 * the keys could only go to a pipe or into JSON.
 */
export function assertDestination(flags: DeliveryFlags, json: boolean, action: string): void {
  if (flags['key-dir'] || flags['keys-out'] || flags['seal-to']) return
  if (!json && process.stdout.isTTY) return
  throw new MissingInputError(
    'key destination',
    `${action} never prints keys ${json ? 'in JSON' : 'to a pipe'}: pass --key-dir DIR, --keys-out FILE or --seal-to RECIPIENT --out FILE`,
  )
}

/**
 * Check the destination the flags name, creating nothing: a real run and a
 * --dry-run refuse the same paths, before the database is touched. A new
 * path only (never stdout or a device; an existing file exits 4, a
 * directory 2), in a directory that exists and that no other user may
 * swap entries in (writable by all without the sticky bit: refused).
 */
export async function checkDestination(flags: DeliveryFlags): Promise<void> {
  if (flags['key-dir']) await checkNewPath(flags['key-dir'], 'Key directory', true)
  if (flags['keys-out']) await checkNewPath(flags['keys-out'], 'Keys file')
  if (flags['seal-to']) {
    readRecipients(flags['seal-to'])
    if (flags.out) await checkNewPath(flags.out, 'Sealed file')
  }
}

/** Longest file-name stem (bytes) before the extension: well under every filesystem's 255. */
const STEM_MAX = 120

/**
 * A file name for any stored userId, never a path and never too long: the
 * userId itself when plain; else percent-encoded; when that is longer than
 * STEM_MAX, a cut of it, `~` and 16 hex of the userId's SHA-256. The three
 * forms cannot collide (`%` only in encoded names, `~` only in cut ones), and
 * the key directory's manifest.csv maps every file back to its userId.
 */
export function keyFileName(userId: string, ext: string): string {
  const safe = /^[A-Za-z0-9_][A-Za-z0-9_.@+-]*$/.test(userId)
    ? userId
    : encodeURIComponent(userId)
        .replace(/^\./, '%2E')
        .replace(/[*'()!~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  if (safe.length <= STEM_MAX) return `${safe}${ext}`
  const hash = createHash('sha256').update(userId).digest('hex').slice(0, 16)
  // Cut before a partial %XX escape so the stem stays readable.
  const cut = safe.slice(0, STEM_MAX - 17).replace(/%[0-9A-F]?$/, '')
  return `${cut}~${hash}${ext}`
}

/** Open the destination the flags name (creating the key directory now). */
export async function openBulkSink(flags: DeliveryFlags): Promise<BulkKeySink> {
  if (flags['key-dir']) return openKeyDir(flags['key-dir'], flags)
  if (flags['keys-out']) return openKeysCsv(flags['keys-out'])
  if (flags['seal-to'] && flags.out) return openSealed(flags['seal-to'], flags.out)
  return openTerminal()
}

/** The part of a sink that is one Pending (a directory or a file). */
function pendingSink(pending: Pending): Pick<BulkKeySink, 'committing' | 'commit' | 'abort' | 'keep'> {
  return {
    committing: () => pending.committing(),
    commit: () => pending.commit(),
    abort: () => pending.abort(),
    keep: () => {
      pending.keep()
      return pending.describeKept()
    },
  }
}

/** The journal of the run begins with its first batch: one of its key hashes marks the run. */
async function beginOnce(pending: Pending, keys: IssuedKey[], run: StageRun, begun: boolean): Promise<void> {
  if (!begun) await pending.begin({...run, keyHash: hashKey(keys[0].apiKey)})
}

function openKeyDir(dir: string, flags: DeliveryFlags): BulkKeySink {
  // A bad --api-url or --mcp-client stops here, before the directory exists.
  const mcp = mcpTarget(flags)
  const pending = new PendingDir(dir)
  pending.create()
  let written = 0
  return {
    destination: {kind: 'key-dir', path: pending.path},
    async stage(keys, run) {
      if (keys.length === 0) return
      await beginOnce(pending, keys, run, written > 0)
      const files: {name: string; content: string}[] = []
      for (const k of keys) {
        files.push({name: keyFileName(k.userId, '.key'), content: `${k.apiKey}\n`})
        if (mcp) {
          files.push({
            name: keyFileName(k.userId, '.mcp.json'),
            content: `${JSON.stringify(mcpConfig(mcp.apiUrl, mcp.client, k.apiKey), null, 2)}\n`,
          })
        }
      }
      pending.write(files)
      // Which file is whose: every userId, whatever its form, and its key file.
      pending.append(
        'manifest.csv',
        await csvText(
          keys.map((k) => [k.userId, keyFileName(k.userId, '.key')]),
          written === 0 ? ['userId', 'file'] : undefined,
        ),
      )
      written += keys.length
    },
    staged: () => pending.seal(),
    ...pendingSink(pending),
    report: (out) =>
      out.note(
        `Keys written to ${pending.path}: ${written} file${written === 1 ? '' : 's'} <userId>.key (mode 0600)${flags['mcp-config'] ? ' with <userId>.mcp.json beside each' : ''}.`,
      ),
  }
}

/** CSV rows, every cell through the one formula guard; with a header line when `columns` are given. */
async function csvText(records: string[][], columns?: string[]): Promise<string> {
  const {stringify} = await import('csv-stringify/sync')
  return stringify(records, {
    header: columns !== undefined,
    columns,
    record_delimiter: 'unix',
    // A cell holding a carriage return is quoted too (RFC 4180), as PostgreSQL's CSV quotes it.
    quote_record_delimiter: true,
    cast: {string: guardCell},
  })
}

/** The userId,apiKey CSV of a batch (the header with the first). */
function keysCsv(keys: IssuedKey[], first: boolean): Promise<string> {
  return csvText(
    keys.map((k) => [k.userId, k.apiKey]),
    first ? ['userId', 'apiKey'] : undefined,
  )
}

function openKeysCsv(file: string): BulkKeySink {
  const pending = new PendingFile(file, 'Keys file')
  const name = path.basename(pending.path)
  let count = 0
  return {
    destination: {kind: 'keys-out', path: pending.path},
    async stage(keys, run) {
      if (keys.length === 0) return
      await beginOnce(pending, keys, run, count > 0)
      pending.append(name, await keysCsv(keys, count === 0))
      count += keys.length
    },
    staged: () => pending.seal(),
    ...pendingSink(pending),
    report: (out) =>
      out.note(`Keys written to ${pending.path}: a CSV of userId,apiKey with ${count} rows (mode 0600).`),
  }
}

/** A recipients file is small: a few lines of public keys. */
const RECIPIENTS_MAX = 64 * 1024

/**
 * A regular file's text, at most `max` bytes: opened without blocking (a
 * FIFO never hangs the run) and checked through its descriptor.
 */
function readBounded(file: string, max: number, flag: string): string {
  let fd: number
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (error) {
    throw new ValidationError(
      `${flag} ${show(file)} cannot be read (${(error as NodeJS.ErrnoException).code}).`,
    )
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new ValidationError(`${flag} ${show(file)} is not a regular file.`)
    if (st.size > max)
      throw new ValidationError(`${flag} ${show(file)} is over ${max / 1024} KiB: not a recipients file.`)
    const buf = Buffer.alloc(st.size)
    let done = 0
    while (done < st.size) {
      const n = readSync(fd, buf, done, st.size - done, done)
      if (n === 0) break
      done += n
    }
    return buf.subarray(0, done).toString('utf8')
  } finally {
    closeSync(fd)
  }
}

/**
 * Recipients from `--seal-to`: an `age1...` recipient, an `ssh-ed25519 AAAA...`
 * public key line, or a file of them, one a line (like `age -R`; `#` comments).
 */
export function readRecipients(value: string): string[] {
  const v = value.trim()
  if (/^age1/i.test(v) || /^ssh-/.test(v)) return [v]
  if (!existsSync(v)) {
    throw new ValidationError(
      `--seal-to ${show(v)} is neither an age recipient (age1...), an ssh-ed25519 public key, nor a file of them.`,
    )
  }
  const lines = readBounded(v, RECIPIENTS_MAX, '--seal-to')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
  if (lines.length === 0) throw new ValidationError(`The recipients file ${v} names no recipient.`)
  return lines
}

async function openSealed(sealTo: string, out: string): Promise<BulkKeySink> {
  const recipients = readRecipients(sealTo)
  const {Encrypter} = await import('age-encryption')
  const encrypter = new Encrypter()
  for (const r of recipients) {
    if (r.startsWith('ssh-ed25519')) {
      const {sshEd25519Recipient} = await import('./age-ssh.js')
      encrypter.addRecipient(sshEd25519Recipient(r))
      continue
    }
    if (/^ssh-/.test(r)) {
      throw new ValidationError(
        `--seal-to: ${show(r.split(/\s+/)[0])} keys are not supported; use an ssh-ed25519 key or an age recipient (age1...).`,
      )
    }
    try {
      encrypter.addRecipient(r)
    } catch {
      throw new ValidationError(`--seal-to: ${show(r)} is not a valid age recipient (age1...).`)
    }
  }
  const pending = new PendingFile(out, 'Sealed file')
  const name = path.basename(pending.path)
  let count = 0
  // The plain CSV exists only in memory, a batch at a time; what reaches the disk is sealed.
  let plain: WritableStreamDefaultWriter<Uint8Array> | undefined
  let sealing: Promise<void> | undefined
  return {
    destination: {kind: 'sealed', path: pending.path, recipients: recipients.length},
    async stage(keys, run) {
      if (keys.length === 0) return
      await beginOnce(pending, keys, run, count > 0)
      if (!plain) {
        const pipe = new TransformStream<Uint8Array, Uint8Array>()
        plain = pipe.writable.getWriter()
        const sealed = await encrypter.encrypt(pipe.readable)
        sealing = (async () => {
          for await (const chunk of sealed as unknown as AsyncIterable<Uint8Array>)
            pending.append(name, chunk)
        })()
        // A failure surfaces where the writer is awaited; keep it from being reported unhandled meanwhile.
        sealing.catch(() => {})
      }
      // A failed write of the sealed file ends the wait too (the encrypter would wait on it forever).
      await Promise.race([plain.write(Buffer.from(await keysCsv(keys, count === 0), 'utf8')), sealing])
      count += keys.length
    },
    async staged() {
      await plain?.close()
      await sealing
      await pending.seal()
    },
    ...pendingSink(pending),
    report: (out) =>
      out.note(
        `Keys sealed to ${pending.path} (${count} rows of userId,apiKey, age-encrypted for ${recipients.length} recipient${recipients.length === 1 ? '' : 's'}). Read them with: age -d -i key.txt ${pending.path}`,
      ),
  }
}

function openTerminal(): BulkKeySink {
  let held: IssuedKey[] = []
  return {
    destination: {kind: 'terminal', path: null},
    async stage(keys) {
      held.push(...keys)
    },
    async staged() {},
    committing() {},
    async commit() {},
    abort() {
      held = []
    },
    keep: () => null,
    report(out) {
      // Only reached on a terminal (assertDestination): shown once, never stored.
      const c = colors()
      out.warn('These keys are shown once and cannot be recovered: store them now.')
      out.secret(
        renderTable(held, [
          {header: 'USER ID', value: (k) => k.userId},
          // A key is copied whole: never wrapped (the user id column gives way).
          {header: 'API KEY', value: (k) => c.bold(k.apiKey), fixed: true},
        ]),
      )
      held = []
    },
  }
}
