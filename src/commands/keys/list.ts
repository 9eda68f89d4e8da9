import {BaseCommand} from '../../base-command.js'
import {type KeyListItem, listKeys} from '../../services/key-lifecycle.js'
import {formatDate, renderTable} from '../../ui/format.js'

export default class KeysList extends BaseCommand {
  static summary = 'List keys: one row per user with a key, by fingerprint (never the key).'

  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']

  async run(): Promise<KeyListItem[]> {
    await this.parse(KeysList)
    const keys = await listKeys(await this.db())
    if (keys.length === 0 && process.stdout.isTTY) this.log('No keys found.')
    else {
      this.log(
        renderTable(keys, [
          {header: 'USER ID', value: (k) => k.userId},
          {header: 'FINGERPRINT', value: (k) => k.fingerprint},
          {header: 'STATUS', value: (k) => (k.deactivated ? `${k.status} (deactivated)` : k.status)},
          {header: 'CREATED', value: (k) => formatDate(k.createdAt, '')},
          {header: 'LAST USED', value: (k) => formatDate(k.lastUsed)},
        ]),
      )
    }
    return keys
  }
}
