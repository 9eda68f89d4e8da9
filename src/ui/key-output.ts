/**
 * Flags and output shared by the commands that make a key (`users create`,
 * `keys rotate`): where the key goes and how it is shown, once.
 */
import {Flags} from '@oclif/core'
import {ValidationError} from '../errors.js'
import {KEY_LENGTH} from '../services/keys.js'
import {parseApiUrl} from '../services/server-check.js'
import {show} from '../services/validation.js'
import {colors, formatWarning, writeLine} from './format.js'
import {jsonText, sanitize} from './sanitize.js'
import {
  DEFAULT_API_URL,
  DEFAULT_MCP_CLIENT,
  KEY_WARNING,
  type KeySink,
  MCP_CLIENT_PATTERN,
  mcpConfig,
  openKeyFile,
} from './secrets.js'

export const keyFlags = {
  'key-length': Flags.integer({
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
  'mcp-client': Flags.string({
    summary: `Client name in the MCP URL /mcp/<name>/sse (default: ${DEFAULT_MCP_CLIENT}).`,
    dependsOn: ['mcp-config'],
  }),
  'api-url': Flags.string({
    summary: `OpenMemory API URL for --mcp-config (default: OPENMEMORY_API_URL, else ${DEFAULT_API_URL}).`,
    dependsOn: ['mcp-config'],
  }),
}

export interface KeyDelivery {
  keyFile: string | null
  mcpConfig: Record<string, unknown> | null
}

export class KeyOutput {
  private sink?: KeySink

  private mcp?: {apiUrl: string; client: string}

  constructor(
    private readonly flags: {
      'key-file'?: string
      'mcp-config'?: boolean
      'api-url'?: string
      'mcp-client'?: string
    },
  ) {}

  /** Call before the database change: a bad flag or a file problem then writes nothing. */
  prepare(): void {
    if (this.flags['mcp-config']) {
      const client = this.flags['mcp-client'] ?? DEFAULT_MCP_CLIENT
      if (!MCP_CLIENT_PATTERN.test(client)) {
        throw new ValidationError(
          `Invalid --mcp-client ${show(client)}: 1 to 64 letters, digits, '.', '_' or '-' (e.g. claude, cursor).`,
        )
      }
      const apiUrl = parseApiUrl(this.flags['api-url'] ?? process.env.OPENMEMORY_API_URL ?? DEFAULT_API_URL)
      this.mcp = {apiUrl, client}
    }
    if (this.flags['key-file']) this.sink = openKeyFile(this.flags['key-file'])
  }

  abort(): void {
    this.sink?.abort()
  }

  /**
   * Deliver the key: to the file, or to stdout (human mode). Returns what the
   * JSON result should carry besides the key itself.
   */
  deliver(apiKey: string, json: boolean, log: (line: string) => void): KeyDelivery {
    const mcp = this.mcp ? mcpConfig(this.mcp.apiUrl, this.mcp.client, apiKey) : null
    if (this.sink) {
      this.sink.write(apiKey)
      if (!json) writeLine(process.stderr, `API key written to ${sanitize(this.sink.path)} (mode 0600).`)
      return {keyFile: this.sink.path, mcpConfig: null}
    }
    if (!json) {
      const c = colors()
      log('')
      log(`API key: ${c.bold(apiKey)}`)
      log('')
      writeLine(process.stderr, formatWarning(KEY_WARNING))
      if (mcp) {
        log('')
        log(jsonText(mcp))
      }
    }
    return {keyFile: null, mcpConfig: mcp}
  }
}
