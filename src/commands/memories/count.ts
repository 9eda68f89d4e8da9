import {Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {integerFlag} from '../../flags.js'
import {
  countMemoryRows,
  type MemoryCountRow,
  memoryTotals,
  planMemoryCount,
  streamMemoryCounts,
} from '../../services/memories.js'
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
import {memoryCountColumns, memoryTotalsRow} from '../../ui/render.js'
import {runTimes} from '../../ui/report.js'
import {existingUserArg} from '../../ui/user-id-arg.js'

export default class MemoriesCount extends BaseCommand {
  static summary = 'Count memories per user (and per app) by state, with totals.'

  static description =
    'States come from the database: active, archived and deleted, plus paused on upstream databases. One grouped query whatever the number of users, streamed: a terminal shows the first 100 rows (with the totals of all) and how many more there are; piped output, --json and --jsonl (rows only) carry every row unless --limit is given.'

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> charlie --by-app',
    '<%= config.bin %> <%= command.id %> --json',
  ]

  static args = {userId: existingUserArg({description: 'Only this user (by its exact userId).'})}

  static flags = {
    'by-app': Flags.boolean({summary: 'One row per app of each user.'}),
    limit: integerFlag({summary: 'Show at most this many rows.', min: 1, max: LIMIT_MAX}),
    ...listingFlags,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(MemoriesCount)
    const userId = args.userId
    const plan = planListing({
      format: this.jsonEnabled() ? 'json' : flags.jsonl ? 'jsonl' : 'text',
      limit: flags.limit,
      all: flags.all,
    })
    const database = await this.connect()
    const input = {userId, byApp: flags['by-app'], limit: plan.queryLimit}
    const count = await planMemoryCount(database.db, input)
    // A terminal page shows some rows but the totals of all: count those first.
    const pageTotals = plan.page === undefined ? undefined : await memoryTotals(database.db, count, input)
    const columns = memoryCountColumns(count.states, count.byApp)
    const footer = () => [memoryTotalsRow(pageTotals ?? count.totals)]
    const sink: Sink<MemoryCountRow> =
      plan.format === 'json'
        ? jsonSink((r) => r, {
            wrap: {
              head: {states: count.states, byApp: count.byApp},
              // startedAt and durationMs come last: the rows stream before the run ends.
              key: 'rows',
              tail: () => ({totals: count.totals, ...runTimes(this.startedAt)}),
            },
          })
        : plan.format === 'jsonl'
          ? jsonlSink()
          : process.stdout.isTTY
            ? tableSink(columns, {footer})
            : tsvSink(columns, {footer})
    const r = await writeListing(streamMemoryCounts(database, count), sink, {page: plan.page})
    if (r.more) this.log(moreLine((await countMemoryRows(database.db, input)) - r.rows))
  }
}
