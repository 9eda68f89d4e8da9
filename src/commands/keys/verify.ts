import {Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {ExitCode} from '../../errors.js'
import {checkKey, type KeyCheck} from '../../services/auth.js'
import {readKey} from '../../ui/read-key.js'
import {sanitize} from '../../ui/sanitize.js'

export default class KeysVerify extends BaseCommand {
  static summary = 'Check which user a key authenticates as, by the server’s own rule (read-only).'

  static description =
    `Reads the key from stdin by default, so it stays out of shell history; --key passes it directly. Exit 0 when the key is valid, 1 when it is not (unknown or revoked). It never updates last_used.`

  static examples = [
    '<%= config.bin %> <%= command.id %> < charlie.key',
    'echo "$KEY" | <%= config.bin %> <%= command.id %> --json',
  ]

  static flags = {
    key: Flags.string({summary: 'The key (prefer stdin: arguments end up in shell history).'}),
  }

  async run(): Promise<KeyCheck> {
    const {flags} = await this.parse(KeysVerify)
    const key = await readKey({flag: flags.key, json: this.jsonEnabled()})
    const r = await checkKey(await this.db(), key)
    if (r.valid) this.log(`Valid: authenticates as ${sanitize(r.userId)} (key ${r.keyFingerprint}).`)
    else if (r.reason === 'revoked')
      this.log(`Not valid: key ${r.keyFingerprint} belongs to ${sanitize(r.userId)} but is revoked.`)
    else this.log(`Not valid: no user has this key (${r.keyFingerprint}).`)
    return this.exitWith(r, r.valid ? ExitCode.ok : ExitCode.failure)
  }
}
