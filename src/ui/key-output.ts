/**
 * Flags and output shared by the commands that make a key (`users create`,
 * `keys rotate`): where the key goes and how it is shown, once.
 *
 * A key file is never lost and never left empty: it is written under a
 * temporary name before the transaction opens and takes its name after the
 * commit (src/ui/pending.ts). Anything that fails after the commit says
 * exactly what was committed (FailedAfterCommitError).
 */
import {Flags} from '@oclif/core'
import type {Db} from '../db/client.js'
import {CommitUnknownError, ValidationError} from '../errors.js'
import {integerFlag} from '../flags.js'
import {hashKey, KEY_LENGTH} from '../services/keys.js'
import {parseApiUrl} from '../services/server-check.js'
import {show} from '../services/validation.js'
import {colors} from './format.js'
import type {Output} from './output.js'
import {checkNewPath, PendingFile} from './pending.js'
import {jsonText, sanitize} from './sanitize.js'
import {DEFAULT_API_URL, DEFAULT_MCP_CLIENT, KEY_WARNING, MCP_CLIENT_PATTERN, mcpConfig} from './secrets.js'

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
  private pending?: PendingFile

  private mcp?: {apiUrl: string; client: string}

  constructor(private readonly flags: KeyFlags) {}

  /** Call before the database change: a bad flag or a taken path then writes nothing. */
  async prepare(): Promise<void> {
    this.mcp = mcpTarget(this.flags)
    const file = this.flags['key-file']
    if (file) {
      await checkNewPath(file, 'Key file')
      this.pending = new PendingFile(file, 'Key file')
    }
  }

  /**
   * Run the database change that makes the key. The key file (if any) is
   * written under a temporary name before the transaction opens and takes
   * its name after the commit; removed if the change failed; kept for the
   * next run to settle when the commit's outcome is unknown (the key shown
   * instead when there is no file).
   */
  async change<R>(
    io: Output,
    run: {db: Db; command: string},
    change: (hooks: {stage: (apiKey: string) => Promise<void>; committing: () => void}) => Promise<R>,
  ): Promise<R> {
    let apiKey: string | undefined
    let result: R
    try {
      result = await change({
        stage: async (key) => {
          apiKey = key
          await this.pending?.stage([{name: 'key', content: `${key}\n`}], {
            ...run,
            keyHash: hashKey(key),
            count: 1,
          })
        },
        committing: () => this.pending?.committing(),
      })
    } catch (error) {
      if (!(error instanceof CommitUnknownError)) {
        this.pending?.abort()
        throw error
      }
      if (this.pending) {
        this.pending.keep()
        throw error.keptIn(this.pending.describeKept())
      }
      // No file: the key may be the only working one, so it is shown (in the error document under --json).
      if (!io.json && apiKey) {
        io.secret(`API key (working only if the change was committed): ${colors().bold(apiKey)}`)
        throw error.keptIn(null)
      }
      throw error.keptIn(null, apiKey ? {apiKey} : undefined)
    }
    await this.pending?.commit()
    return result
  }

  /** Where the key went, for a FailedAfterCommitError. */
  get keyFile(): string | null {
    return this.pending?.path ?? null
  }

  /**
   * Deliver the key: to the file, or to stdout (human mode). Returns what the
   * JSON result should carry besides the key itself.
   */
  deliver(apiKey: string, io: Output): KeyDelivery {
    const mcp = this.mcp ? mcpConfig(this.mcp.apiUrl, this.mcp.client, apiKey) : null
    if (this.pending) {
      io.note(`API key written to ${sanitize(this.pending.path)} (mode 0600).`)
      return {keyFile: this.pending.path, mcpConfig: null}
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
