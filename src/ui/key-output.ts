/**
 * Flags and output shared by the commands that make a key (`users create`,
 * `keys rotate`): where the key goes and how it is shown, once.
 *
 * A key file is never lost and never left empty: nothing is created before
 * the database change; inside its transaction, just before the commit, the
 * key is written to a temporary file, fsynced, and linked to its name (which
 * never overwrites); the commit failing removes it again, and an interrupt in
 * that window removes it before exiting. Anything that fails after the commit
 * says exactly what was committed (FailedAfterCommitError).
 */
import {randomBytes} from 'node:crypto'
import {closeSync, fsyncSync, linkSync, lstatSync, openSync, statSync, unlinkSync, writeSync} from 'node:fs'
import path from 'node:path'
import {Flags} from '@oclif/core'
import {CommitUnknownError, ConflictError, KeyFileError, ValidationError} from '../errors.js'
import {integerFlag} from '../flags.js'
import {KEY_LENGTH} from '../services/keys.js'
import {parseApiUrl} from '../services/server-check.js'
import {show} from '../services/validation.js'
import {colors} from './format.js'
import type {Output} from './output.js'
import {jsonText, sanitize} from './sanitize.js'
import {DEFAULT_API_URL, DEFAULT_MCP_CLIENT, KEY_WARNING, MCP_CLIENT_PATTERN, mcpConfig} from './secrets.js'

/** A new file (mode 0600, never overwritten) that holds a secret: written whole, then fsynced. */
export interface SecretFile {
  path: string
  /** Write the whole content, fsync and close: on disk before the database commits. */
  write(content: string | Uint8Array): void
  /** Close if still open and remove the file (the change it belonged to failed). */
  abort(): void
}

export function openSecretFile(file: string, what = 'Key file'): SecretFile {
  const full = path.resolve(file)
  let fd: number
  try {
    fd = openSync(full, 'wx', 0o600)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST')
      throw new ConflictError(`${what} ${full} already exists; it is never overwritten. Choose a new path.`)
    throw new ValidationError(
      `Cannot create ${what.toLowerCase()} ${full} (${code ?? 'error'}); check the directory exists and is writable.`,
    )
  }
  let open = true
  return {
    path: full,
    write(content) {
      const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content
      let done = 0
      while (done < data.length) done += writeSync(fd, data, done, data.length - done)
      fsyncSync(fd)
      closeSync(fd)
      open = false
    },
    abort() {
      if (open) closeSync(fd)
      open = false
      try {
        unlinkSync(full)
      } catch {}
    },
  }
}

/** fsync a directory, so the entries of files just created in it survive a crash. */
export function syncDirectory(dir: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch {
    // Some filesystems refuse fsync on a directory: the files themselves are synced.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

export interface KeySink {
  path: string
  /** Write, fsync and place the file: call inside the transaction, before the commit. */
  write(key: string): void
  /** The commit failed (or never happened): remove the file. */
  abort(): void
  /** The commit succeeded: the file stays. */
  commit(): void
}

const SIGNALS: [NodeJS.Signals, number][] = [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
]

/** Check the target now (exists: exit 4; no directory: exit 2); create nothing yet. */
export function openKeyFile(file: string): KeySink {
  const full = path.resolve(file)
  let exists = false
  try {
    lstatSync(full)
    exists = true
  } catch {}
  if (exists)
    throw new ConflictError(`Key file ${full} already exists; it is never overwritten. Choose a new path.`)
  try {
    if (!statSync(path.dirname(full)).isDirectory()) throw new Error('not a directory')
  } catch {
    throw new ValidationError(`Cannot create key file ${full}: its directory does not exist.`)
  }
  let placed = false
  const remove = () => {
    if (!placed) return
    placed = false
    try {
      unlinkSync(full)
    } catch {}
  }
  const handlers = SIGNALS.map(([signal, code]) => {
    const handler = () => {
      remove()
      process.exit(code)
    }
    return [signal, handler] as const
  })
  const unguard = () => {
    for (const [signal, handler] of handlers) process.removeListener(signal, handler)
  }
  return {
    path: full,
    write(key) {
      const tmp = path.join(
        path.dirname(full),
        `.${path.basename(full)}.${randomBytes(6).toString('hex')}.tmp`,
      )
      let fd: number | undefined
      try {
        fd = openSync(tmp, 'wx', 0o600)
        writeSync(fd, `${key}\n`)
        fsyncSync(fd)
        closeSync(fd)
        fd = undefined
        // link() never overwrites: a file created meanwhile is a conflict, not a loss.
        linkSync(tmp, full)
        placed = true
        for (const [signal, handler] of handlers) process.on(signal, handler)
        const dir = openSync(path.dirname(full), 'r')
        try {
          fsyncSync(dir)
        } finally {
          closeSync(dir)
        }
      } catch (error) {
        if (fd !== undefined) closeSync(fd)
        remove()
        unguard()
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'EEXIST' && !placed) {
          throw new ConflictError(
            `Key file ${full} appeared meanwhile; it is never overwritten. Nothing was changed.`,
          )
        }
        throw new KeyFileError(full, code)
      } finally {
        try {
          unlinkSync(tmp)
        } catch {}
      }
    },
    abort() {
      remove()
      unguard()
    },
    commit() {
      placed = false
      unguard()
    },
  }
}

/** Where --mcp-config points: shared by the single-key commands and the bulk ones (--key-dir). */
export const mcpTargetFlags = {
  'mcp-client': Flags.string({
    summary: `Client name in the MCP URL /mcp/<name>/sse (default: ${DEFAULT_MCP_CLIENT}).`,
    dependsOn: ['mcp-config'],
  }),
  'api-url': Flags.string({
    summary: `OpenMemory API URL for --mcp-config (default: OPENMEMORY_API_URL, else ${DEFAULT_API_URL}).`,
    dependsOn: ['mcp-config'],
  }),
}

export const keyFlags = {
  'key-length': integerFlag({
    summary: `Random characters after the mem_lab_ prefix (${KEY_LENGTH.min}-${KEY_LENGTH.max}).`,
    default: KEY_LENGTH.default,
    min: KEY_LENGTH.min,
    max: KEY_LENGTH.max,
  }),
  'key-file': Flags.string({
    summary: 'Write the key to this new file (mode 0600) instead of printing it.',
    description: 'The file must not exist: it is never overwritten.',
  }),
  'mcp-config': Flags.boolean({
    summary: "Also print the mcpServers JSON for this key, as the server's register endpoint gives it.",
    description:
      "npx -y supergateway --sse <api-url>/mcp/<mcp-client>/sse --oauth2Bearer KEY: the server's MCP endpoint over SSE, bridged to stdio.",
    exclusive: ['key-file'],
  }),
  ...mcpTargetFlags,
}

/**
 * Where `--mcp-config` points (`--api-url`, `--mcp-client`), checked before
 * anything is written; undefined without `--mcp-config`. Shared by the
 * single-key commands and the bulk ones (`--key-dir`).
 */
export function mcpTarget(flags: {
  'mcp-config'?: boolean
  'api-url'?: string
  'mcp-client'?: string
}): {apiUrl: string; client: string} | undefined {
  if (!flags['mcp-config']) return undefined
  const client = flags['mcp-client'] ?? DEFAULT_MCP_CLIENT
  if (!MCP_CLIENT_PATTERN.test(client)) {
    throw new ValidationError(
      `Invalid --mcp-client ${show(client)}: 1 to 64 letters, digits, '.', '_' or '-' (e.g. claude, cursor).`,
    )
  }
  const apiUrl = parseApiUrl(flags['api-url'] ?? process.env.OPENMEMORY_API_URL ?? DEFAULT_API_URL)
  return {apiUrl, client}
}

export interface KeyDelivery {
  keyFile: string | null
  mcpConfig: Record<string, unknown> | null
}

/** Where one new key goes: the flags of `users create` and `keys rotate` (and the menu's answers). */
export interface KeyFlags {
  'key-file'?: string
  'mcp-config'?: boolean
  'api-url'?: string
  'mcp-client'?: string
}

export class KeyOutput {
  private sink?: KeySink

  private mcp?: {apiUrl: string; client: string}

  constructor(private readonly flags: KeyFlags) {}

  /** Call before the database change: a bad flag or a file problem then writes nothing. */
  prepare(): void {
    this.mcp = mcpTarget(this.flags)
    if (this.flags['key-file']) this.sink = openKeyFile(this.flags['key-file'])
  }

  /**
   * Run the database change that makes the key: the file (if any) is written
   * and fsynced inside it, before the commit; kept once it commits, or when
   * the commit's outcome is unknown (the key may be the only working one);
   * removed if the change failed.
   */
  async change<R>(run: (beforeCommit: (apiKey: string) => void) => Promise<R>): Promise<R> {
    try {
      const result = await run((apiKey) => this.beforeCommit(apiKey))
      this.committed()
      return result
    } catch (error) {
      if (error instanceof CommitUnknownError) this.committed()
      else this.abort()
      throw error
    }
  }

  /** Inside the transaction, before the commit: write and fsync the key file (if any). */
  beforeCommit(apiKey: string): void {
    this.sink?.write(apiKey)
  }

  /** The change failed or never committed: remove the key file (if any). */
  abort(): void {
    this.sink?.abort()
  }

  /** The change committed: the key file (if any) stays. */
  committed(): void {
    this.sink?.commit()
  }

  /** Where the key went, for a FailedAfterCommitError. */
  get keyFile(): string | null {
    return this.sink?.path ?? null
  }

  /**
   * Deliver the key: to the file, or to stdout (human mode). Returns what the
   * JSON result should carry besides the key itself.
   */
  deliver(apiKey: string, io: Output): KeyDelivery {
    const mcp = this.mcp ? mcpConfig(this.mcp.apiUrl, this.mcp.client, apiKey) : null
    if (this.sink) {
      io.note(`API key written to ${sanitize(this.sink.path)} (mode 0600).`)
      return {keyFile: this.sink.path, mcpConfig: null}
    }
    if (!io.json) {
      io.secret('')
      io.secret(`API key: ${colors().bold(apiKey)}`)
      io.secret('')
      io.warn(KEY_WARNING)
      if (mcp) {
        io.secret('')
        io.secret(jsonText(mcp))
      }
    }
    return {keyFile: null, mcpConfig: mcp}
  }
}
