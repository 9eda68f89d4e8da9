import {Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {integerFlag, sinceFlag} from '../../flags.js'
import {type AuditRecord, countAudit, streamAudit} from '../../services/audit.js'
import {AGE_UNITS_HELP, DURATION_GRAMMAR} from '../../services/duration.js'
import {LIMIT_MAX, parseUserRef} from '../../services/validation.js'
import {tsvHeader} from '../../ui/format.js'
import {listingFlags, runListing} from '../../ui/listing.js'
import {AUDIT_DETAILS_CELL, auditCopySql} from '../../ui/listing-sql.js'
import {AUDIT_COLUMNS} from '../../ui/render.js'

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
    since: sinceFlag({
      summary: `Only changes since this date or time (UTC), or this long ago: ${AGE_UNITS_HELP}.`,
      description: `A date (2026-11-01), a time (2026-11-01T10:00:00Z; without a zone, UTC), or an age: whole hours, days, weeks, months or years. ${DURATION_GRAMMAR}`,
    }),
    limit: integerFlag({
      summary: 'At most this many rows (default: all; a terminal shows 100, see --all).',
      min: 1,
      max: LIMIT_MAX,
    }),
    ...listingFlags,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(AuditList)
    const userId = flags.user === undefined ? undefined : parseUserRef(flags.user)
    const since = flags.since
    const database = await this.connect()
    await runListing<AuditRecord>({
      json: this.jsonEnabled(),
      flags,
      columns: AUDIT_COLUMNS,
      empty: 'No audit records.',
      copy: {
        read: database.copy,
        tsvHeader: tsvHeader(AUDIT_COLUMNS),
        jsonCells: [AUDIT_DETAILS_CELL],
        statement: (format, limit) => auditCopySql(format, {userId, since, limit}),
      },
      rows: (plan) => streamAudit(database, {userId, since, limit: plan.queryLimit}),
      count: () => countAudit(database.db, {userId, since}),
      log: (line) => this.log(line),
    })
  }
}
