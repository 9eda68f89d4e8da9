import {Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {ValidationError} from '../../errors.js'
import {integerFlag, listFormatFlag, userSortFlag} from '../../flags.js'
import {defaultContext} from '../../services/context.js'
import {countUsers, streamUsers, type UserListItem} from '../../services/users.js'
import {DAYS_MAX, LIMIT_MAX} from '../../services/validation.js'
import {tsvHeader} from '../../ui/format.js'
import {csvSink, jsonSink, listingFlags, runListing} from '../../ui/listing.js'
import {usersCopySql} from '../../ui/listing-sql.js'
import {USER_COLUMNS} from '../../ui/render.js'
import {CSV_COLUMNS, uiProfile, userCsvRecord} from '../../ui/user-export.js'

export default class UsersList extends BaseCommand {
  static summary = 'List users with key status, active memories, apps and activity.'

  static description =
    `One query whatever the number of users, streamed: rows are written as the database produces them, so memory stays flat at any size. A terminal shows the first 100 users as a table and how many more there are (--limit N or --all shows more); piped output (tab-separated text with a header), --json, --jsonl and --format csv carry every user unless --limit is given. A reader that stops early (| head) ends the command quietly.

Sorting: user-id (A-Z, the default), created (newest first), last-active (most recent first), memories (most first).

--format csv prints CSV with a header (columns userId, name, email, keyStatus, deactivated, activeMemoryCount, appNames (joined with ;), createdAt, lastActiveAt, id). A cell that starts with =, +, -, @, a tab, a carriage return or ' gets one leading ' so a spreadsheet shows it as text instead of running it as a formula (OWASP CSV injection); 'users import' takes it off again, so the export imports back exactly; --csv-raw writes cells exactly. --format ui-profile prints a JSON array of the web UI's defaultUsers entries: {id, name, displayName, isActive, createdAt}, where id and name are the userId and isActive means the key is active and the user not deactivated.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --sort last-active --limit 20',
    '<%= config.bin %> <%= command.id %> --inactive-days 90',
    '<%= config.bin %> <%= command.id %> --json | jq -r ".[].userId"',
    '<%= config.bin %> <%= command.id %> --jsonl | jq -r .userId',
    '<%= config.bin %> <%= command.id %> --format csv > users.csv',
    '<%= config.bin %> <%= command.id %> --format ui-profile > default-users.json',
  ]

  static flags = {
    sort: userSortFlag({summary: 'Sort order.'}),
    limit: integerFlag({
      summary: 'Show at most this many users (default: all; a terminal shows 100, see --all).',
      min: 1,
      max: LIMIT_MAX,
    }),
    'inactive-days': integerFlag({
      summary: 'Only users with no activity (or, never active, created) for at least this many days.',
      min: 0,
      max: DAYS_MAX,
    }),
    format: listFormatFlag({
      summary:
        'Output format: table (tab-separated when piped), csv, or ui-profile (the web UI defaultUsers JSON).',
      exclusive: ['json', 'jsonl'],
    }),
    'csv-raw': Flags.boolean({
      summary:
        "With --format csv: write cells exactly, without the leading ' that keeps spreadsheets from running them as formulas.",
    }),
    ...listingFlags,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(UsersList)
    const format = flags.format
    if (flags['csv-raw'] && format !== 'csv')
      throw new ValidationError('--csv-raw only applies to --format csv.')
    const database = await this.connect()
    const ctx = defaultContext('users list')
    const input = {sort: flags.sort, inactiveDays: flags['inactive-days']}
    await runListing<UserListItem>({
      json: this.jsonEnabled() || format === 'ui-profile',
      flags,
      format: format === 'csv' ? 'csv' : undefined,
      columns: USER_COLUMNS,
      empty: 'No users found.',
      sink: (f) =>
        format === 'ui-profile'
          ? jsonSink(uiProfile)
          : f === 'csv'
            ? csvSink(CSV_COLUMNS, userCsvRecord, {
                raw: flags['csv-raw'],
                terminal: Boolean(process.stdout.isTTY),
              })
            : undefined,
      copy: {
        read: database.copy,
        tsvHeader: tsvHeader(USER_COLUMNS),
        statement: (f, limit) =>
          format === 'ui-profile'
            ? undefined
            : usersCopySql(f, {...input, limit}, ctx.now(), {raw: flags['csv-raw']}),
      },
      rows: (plan) => streamUsers(database, {...input, limit: plan.queryLimit}, ctx),
      count: () => countUsers(database.db, input, ctx),
      log: (line) => this.log(line),
    })
  }
}
