import {BaseCommand} from '../../base-command.js'
import {ageFlag, integerFlag} from '../../flags.js'
import {AGE_UNITS_HELP, DURATION_GRAMMAR} from '../../services/duration.js'
import {countKeys, type KeyListItem, streamKeys} from '../../services/key-lifecycle.js'
import {LIMIT_MAX} from '../../services/validation.js'
import {tsvHeader} from '../../ui/format.js'
import {listingFlags, runListing} from '../../ui/listing.js'
import {keysCopySql} from '../../ui/listing-sql.js'
import {KEY_COLUMNS} from '../../ui/render.js'

export default class KeysList extends BaseCommand {
  static summary = 'List keys: one row per user with a key, by fingerprint (never the key).'

  static description =
    'Streamed: a terminal shows the first 100 keys and how many more there are (--limit N or --all shows more); piped output, --json and --jsonl carry every key unless --limit is given. With --older-than, a key with no creation time (written by other tools) has an unknown age and counts as older.'

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
    '<%= config.bin %> <%= command.id %> --older-than 90d',
    {
      description: 'The users whose key is revoked.',
      command:
        '<%= config.bin %> <%= command.id %> --jsonl | jq -r \'select(.keyStatus == "revoked") | .userId\'',
    },
  ]

  static flags = {
    limit: integerFlag({summary: 'Show at most this many keys.', min: 1, max: LIMIT_MAX}),
    'older-than': ageFlag({
      summary: `Only keys created longer ago than this: ${AGE_UNITS_HELP}.`,
      description: `An age: whole hours, days, weeks, months or years. ${DURATION_GRAMMAR}`,
    }),
    ...listingFlags,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(KeysList)
    const olderThan = flags['older-than']?.cutoff
    const database = await this.connect()
    await runListing<KeyListItem>({
      json: this.jsonEnabled(),
      flags,
      columns: KEY_COLUMNS,
      empty: 'No keys found.',
      copy: {
        read: database.copy,
        tsvHeader: tsvHeader(KEY_COLUMNS),
        statement: (format, limit) => keysCopySql(format, {limit, olderThan}),
      },
      rows: (plan) => streamKeys(database, {limit: plan.queryLimit, olderThan}),
      count: () => countKeys(database.db, {olderThan}),
      log: (line) => this.log(line),
    })
  }
}
