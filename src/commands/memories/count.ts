import {Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {integerFlag} from '../../flags.js'
import {
  countMemoryRows,
  type MemoryCountPlan,
  type MemoryCountRow,
  memoryTotals,
  planMemoryCount,
  streamMemoryCounts,
} from '../../services/memories.js'
import {LIMIT_MAX} from '../../services/validation.js'
import {tsvHeader, tsvRow} from '../../ui/format.js'
import {jsonSink, listingFlags, runListing} from '../../ui/listing.js'
import {memoriesCopySql} from '../../ui/listing-sql.js'
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
    const database = await this.connect()
    const input = {userId: args.userId, byApp: flags['by-app']}
    let count: MemoryCountPlan | undefined
    let pageTotals: MemoryCountRow | undefined
    const planned = () => count as MemoryCountPlan
    await runListing<MemoryCountRow>({
      json: this.jsonEnabled(),
      flags,
      copy: {
        read: database.copy,
        get tsvHeader() {
          return tsvHeader(memoryCountColumns(planned().states, planned().byApp))
        },
        // The TOTAL row: the sums of the state and total cells over the rows written.
        footer: {
          get sums() {
            const first = planned().byApp ? 2 : 1
            return [...planned().states.keys(), planned().states.length].map((i) => first + i)
          },
          lines: (sums) => {
            const {states, byApp} = planned()
            const byState = Object.fromEntries(states.map((s, i) => [s, sums[i] ?? 0]))
            const total = memoryTotalsRow({byState, memoryCount: sums[states.length] ?? 0})
            return `${tsvRow(memoryCountColumns(states, byApp), total)}\n`
          },
        },
        statement: async (format, limit) => {
          if (format !== 'text') return undefined
          count = await planMemoryCount(database.db, {...input, limit})
          return memoriesCopySql(format, count)
        },
      },
      rows: async (plan) => {
        count = await planMemoryCount(database.db, {...input, limit: plan.queryLimit})
        // A terminal page shows some rows but the totals of all: count those first.
        if (plan.page !== undefined) {
          pageTotals = memoryTotalsRow(
            await memoryTotals(database.db, count, {...input, limit: plan.queryLimit}),
          )
        }
        return streamMemoryCounts(database, count)
      },
      columns: () => memoryCountColumns(planned().states, planned().byApp),
      footer: () => [pageTotals ?? memoryTotalsRow(planned().totals)],
      sink: (format) =>
        format === 'json'
          ? jsonSink((r) => r, {
              wrap: {
                head: {states: planned().states, byApp: planned().byApp},
                key: 'rows',
                // startedAt and durationMs come last: the rows stream before the run ends.
                tail: () => ({totals: planned().totals, ...runTimes(this.startedAt)}),
              },
            })
          : undefined,
      count: () => countMemoryRows(database.db, input),
      log: (line) => this.log(line),
    })
  }
}
