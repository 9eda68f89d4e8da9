import {BaseCommand} from '../../base-command.js'
import {ageFlag, integerFlag} from '../../flags.js'
import {AGE_UNITS_HELP, DURATION_GRAMMAR} from '../../services/duration.js'
import {countKeys, type KeyListItem, streamKeys} from '../../services/key-lifecycle.js'
import {LIMIT_MAX} from '../../services/validation.js'
import {
  jsonlSink,
  jsonSink,
  listingFlags,
  moreLine,
  planListing,
  type Sink,
  tableSink,
  tsvSink,
  writeListing,
} from '../../ui/listing.js'
import {KEY_COLUMNS} from '../../ui/render.js'

export default class KeysList extends BaseCommand {
  static summary = 'List keys: one row per user with a key, by fingerprint (never the key).'

  static description =
    'Streamed: a terminal shows the first 100 keys and how many more there are (--limit N or --all shows more); piped output, --json and --jsonl carry every key unless --limit is given. With --older-than, a key with no creation time (written by other tools) has an unknown age and counts as older.'

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
    '<%= config.bin %> <%= command.id %> --older-than 90d',
    '<%= config.bin %> <%= command.id %> --jsonl | jq -r "select(.status == \\"revoked\\") | .userId"',
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
    const plan = planListing({
      format: this.jsonEnabled() ? 'json' : flags.jsonl ? 'jsonl' : 'text',
      limit: flags.limit,
      all: flags.all,
    })
    const database = await this.connect()
    const sink: Sink<KeyListItem> =
      plan.format === 'json'
        ? jsonSink()
        : plan.format === 'jsonl'
          ? jsonlSink()
          : process.stdout.isTTY
            ? tableSink(KEY_COLUMNS, {empty: 'No keys found.'})
            : tsvSink(KEY_COLUMNS)
    const r = await writeListing(streamKeys(database, {limit: plan.queryLimit, olderThan}), sink, {
      page: plan.page,
    })
    if (r.more) this.log(moreLine((await countKeys(database.db, {olderThan})) - r.rows))
  }
}
