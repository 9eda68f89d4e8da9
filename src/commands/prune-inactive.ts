import {Flags} from '@oclif/core'
import {BaseCommand} from '../base-command.js'
import {withRunLock} from '../db/client.js'
import {integerFlag, pruneModeFlag} from '../flags.js'
import {type PruneFlowResult, pruneFlow} from '../flows/prune.js'
import {defaultContext} from '../services/context.js'
import {
  DEFAULT_BATCH_SIZE,
  PRUNE_BUSY,
  PRUNE_LOCK,
  type PruneUser,
  planPrune,
  streamInactive,
} from '../services/prune.js'
import {resolveUserRefs} from '../services/user-lookup.js'
import {DAYS_MAX, LIMIT_MAX, parseUserRef} from '../services/validation.js'
import {
  copyListing,
  jsonlSink,
  jsonSink,
  lineSink,
  listingFlags,
  moreLine,
  planListing,
  type Sink,
  writeListing,
} from '../ui/listing.js'
import {inactiveCopySql} from '../ui/listing-sql.js'
import {pruneVerb} from '../ui/render.js'

export type PruneInactiveResult = PruneFlowResult

export default class PruneInactive extends BaseCommand {
  static writes = true

  static summary = 'Deactivate or delete users inactive for N days; safe to run from cron.'

  static description =
    `A user is inactive when users.last_active (or created_at, if never active) is older than --days. --mode deactivate (the default) switches off the key and apps and keeps the data: undo with 'users reactivate'. --mode delete removes the user and everything that references them, as 'users delete' does.

Runs in batches, each its own transaction; a crash loses at most the batch in flight and running again finishes the job. A user who becomes active during the run is kept. Only one run at a time: a second run exits 75 at once.

On a terminal it shows the count and asks before changing anything; without a terminal, --yes is required (else exit 2, nothing changed).`

  static examples = [
    '<%= config.bin %> <%= command.id %> --days 90 --dry-run',
    '<%= config.bin %> <%= command.id %> --days 90 --yes',
    {
      description: 'From a script: delete users idle for a year, except two, and print the result as JSON.',
      command:
        '<%= config.bin %> <%= command.id %> --days 365 --mode delete --exclude admin --exclude ops --yes --json',
    },
  ]

  static flags = {
    days: integerFlag({
      summary: 'Inactive for at least this many days.',
      default: 90,
      min: 1,
      max: DAYS_MAX,
    }),
    mode: pruneModeFlag({summary: 'What to do with inactive users.'}),
    exclude: Flags.string({
      summary: 'Never touch this userId (repeatable); an unknown userId exits 3.',
      multiple: true,
    }),
    limit: integerFlag({summary: 'Change at most this many users in this run.', min: 1, max: LIMIT_MAX}),
    'dry-run': Flags.boolean({summary: 'List who would be affected; change nothing.'}),
    yes: Flags.boolean({char: 'y', summary: 'Change without asking (required without a terminal).'}),
    'batch-size': integerFlag({
      summary: 'Users per transaction.',
      default: DEFAULT_BATCH_SIZE,
      min: 1,
      max: 10_000,
      helpGroup: 'ADVANCED',
    }),
    ...listingFlags,
  }

  // The embedded database's file lock is the run lock: never wait for it.
  protected lockWaitMs = 0

  async run(): Promise<PruneInactiveResult | undefined> {
    const {flags} = await this.parse(PruneInactive)
    const json = this.jsonEnabled()
    let input = {
      days: flags.days,
      mode: flags.mode,
      exclude: (flags.exclude ?? []).map(parseUserRef),
      limit: flags.limit,
      dryRun: flags['dry-run'],
      batchSize: flags['batch-size'],
    }
    const database = await this.connect()
    const ctx = defaultContext('prune-inactive')
    if (!input.dryRun) return pruneFlow(this.io(), database, {...input, yes: flags.yes}, ctx)
    // --dry-run: a listing of the users a run would change, under the same run lock.
    return withRunLock(database, PRUNE_LOCK, PRUNE_BUSY, async () => {
      // The plan (cutoff, count) comes first, so the JSON result keeps its shape while its
      // user list streams; durationMs is the time to plan.
      const started = Date.now()
      // --exclude names stored ids exactly or by their shown spelling: list with the stored ones.
      const exclude = await resolveUserRefs(database.db, input.exclude ?? [])
      input = {...input, exclude}
      const plan = await planPrune(database.db, input, ctx)
      const cutoff = new Date(plan.cutoffAt)
      const listing = planListing({
        format: json ? 'json' : flags.jsonl ? 'jsonl' : 'text',
        limit: input.limit,
        all: flags.all,
      })
      const head = {
        days: input.days,
        mode: input.mode,
        cutoffAt: plan.cutoffAt,
        matchedCount: plan.matchedCount,
        changedCount: 0,
        skippedCount: 0,
        dryRun: true,
        startedAt: this.startedAt.toISOString(),
        durationMs: Date.now() - started,
      }
      const wrap = {head, key: 'userIds'}
      const copied = await copyListing(
        {
          read: database.copy,
          jsonWrap: wrap,
          statement: (format, limit) => inactiveCopySql(format, cutoff, {...input, limit}),
        },
        listing,
      )
      const sink: Sink<PruneUser> = json
        ? jsonSink((u) => u.userId, {wrap})
        : flags.jsonl
          ? jsonlSink()
          : lineSink((u) => u.userId)
      const r =
        copied ??
        (await writeListing(streamInactive(database, {...input, limit: listing.queryLimit}, cutoff), sink, {
          page: listing.page,
        }))
      if (r.more) this.log(moreLine(plan.matchedCount - r.rows))
      if (!r.closed) {
        this.note(
          `Dry run: ${plan.matchedCount} user(s) inactive since ${plan.cutoffAt} would be ${pruneVerb(input.mode)}; nothing changed.`,
        )
      }
      return undefined
    })
  }
}
