/**
 * Flags and output shared by the commands that make a key (`users create`,
 * `keys rotate`): where the key goes and how it is shown, once.
 */
import {Flags} from '@oclif/core'
import {KEY_LENGTH} from '../services/keys.js'
import {colors, formatWarning} from './format.js'
import {DEFAULT_API_URL, KEY_WARNING, type KeySink, mcpConfig, openKeyFile} from './secrets.js'

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
    summary: 'Also print the Claude Desktop mcpServers JSON for this key.',
    exclusive: ['key-file'],
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

  constructor(private readonly flags: {'key-file'?: string; 'mcp-config'?: boolean; 'api-url'?: string}) {}

  /** Call before the database change: a file problem then writes nothing. */
  prepare(): void {
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
    const mcp = this.flags['mcp-config']
      ? mcpConfig(this.flags['api-url'] ?? process.env.OPENMEMORY_API_URL ?? DEFAULT_API_URL, apiKey)
      : null
    if (this.sink) {
      this.sink.write(apiKey)
      if (!json) process.stderr.write(`API key written to ${this.sink.path} (mode 0600).\n`)
      return {keyFile: this.sink.path, mcpConfig: null}
    }
    if (!json) {
      const c = colors()
      log('')
      log(`API key: ${c.bold(apiKey)}`)
      log('')
      process.stderr.write(`${formatWarning(KEY_WARNING)}\n`)
      if (mcp) {
        log('')
        log(JSON.stringify(mcp, null, 2))
      }
    }
    return {keyFile: null, mcpConfig: mcp}
  }
}
