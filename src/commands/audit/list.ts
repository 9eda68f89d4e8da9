import {Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {ValidationError} from '../../errors.js'
import {type AuditRecord, countAudit, streamAudit} from '../../services/audit.js'
import {AGE_UNITS_HELP, ageCutoff, matchAge} from '../../services/duration.js'
import {LIMIT_MAX, parseUserRef, show} from '../../services/validation.js'
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
import {AUDIT_COLUMNS} from '../../ui/render.js'

/** `2026-11-01`, `2026-11-01T10:00:00Z`, or a relative age: `12h`, `7d`, `2w`, `3m`, `1y`. */
export function parseSince(value: string, now = new Date()): Date {
  const age = matchAge(value)
  if (age) return ageCutoff(age, now, '--since')
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    const s = value.trim()
    // Date() rolls 2026-02-30 over to March 2: refuse days the month does not have.
    const [y, m, day] = s.slice(0, 10).split('-').map(Number) as [number, number, number]
    const inMonth = m >= 1 && m <= 12 && day >= 1 && day <= new Date(Date.UTC(y, m, 0)).getUTCDate()
    const d = new Date(/[T ]/.test(s) && !/(Z|[+-]\d{2}:?\d{2})$/.test(s) ? `${s.replace(' ', 'T')}Z` : s)
    if (inMonth && !Number.isNaN(d.getTime())) return d
  }
  throw new ValidationError(
    `Invalid --since ${show(value)}: use a date (2026-11-01), a UTC time, or an age (${AGE_UNITS_HELP}).`,
  )
}

export default class AuditList extends BaseCommand {
  static summary = 'Show the audit trail of changes made by this tool.'

  static description =
    'One row per affected user for every change: time (UTC), OS user and host, command, target userId, outcome and details. Newest first, streamed: a terminal shows the first 100 rows and how many more there are; piped output, --json and --jsonl carry every row unless --limit is given.'

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --user charlie',
    '<%= config.bin %> <%= command.id %> --since 7d --limit 500 --json',
  ]

  static flags = {
    user: Flags.string({summary: 'Only changes to this userId.'}),
    since: Flags.string({
      summary: 'Only changes since this date or time (UTC), or this long ago: 12h, 7d, 2w, 3m, 1y.',
    }),
    limit: Flags.integer({
      summary: 'At most this many rows (default: all; a terminal shows 100, see --all).',
      min: 1,
      max: LIMIT_MAX,
    }),
    ...listingFlags,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(AuditList)
    const userId = flags.user === undefined ? undefined : parseUserRef(flags.user)
    const since = flags.since === undefined ? undefined : parseSince(flags.since)
    const plan = planListing({
      format: this.jsonEnabled() ? 'json' : flags.jsonl ? 'jsonl' : 'text',
      limit: flags.limit,
      all: flags.all,
    })
    const database = await this.connect()
    const input = {userId, since, limit: plan.queryLimit}
    const sink: Sink<AuditRecord> =
      plan.format === 'json'
        ? jsonSink()
        : plan.format === 'jsonl'
          ? jsonlSink()
          : process.stdout.isTTY
            ? tableSink(AUDIT_COLUMNS, {empty: 'No audit records.'})
            : tsvSink(AUDIT_COLUMNS)
    const r = await writeListing(streamAudit(database, input), sink, {page: plan.page})
    if (r.more) this.log(moreLine((await countAudit(database.db, input)) - r.rows))
  }
}
