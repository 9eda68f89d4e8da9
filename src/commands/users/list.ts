import {Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {defaultContext} from '../../services/context.js'
import {listUsers, USER_SORTS, type UserListItem, type UserSort} from '../../services/users.js'
import {DAYS_MAX, LIMIT_MAX} from '../../services/validation.js'
import {userTable} from '../../ui/render.js'
import {LIST_FORMATS, type ListFormat, uiProfiles, usersCsv} from '../../ui/user-export.js'

export default class UsersList extends BaseCommand {
  static summary = 'List users with key status, active memories, apps and activity.'

  static description =
    `One query whatever the number of users. A table on a terminal; tab-separated text with a header when piped.

Sorting: user-id (A-Z, the default), created (newest first), last-active (most recent first), memories (most first).

--format csv prints CSV with a header (columns userId, name, email, keyStatus, deactivated, activeMemories, apps (joined with ;), createdAt, lastActive, id). --format ui-profile prints a JSON array of the web UI's defaultUsers entries: {id, name, displayName, isActive, createdAt}, where id and name are the userId and isActive means the key is active and the user not deactivated.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --sort last-active --limit 20',
    '<%= config.bin %> <%= command.id %> --inactive-days 90',
    '<%= config.bin %> <%= command.id %> --json | jq -r ".[].userId"',
    '<%= config.bin %> <%= command.id %> --format csv > users.csv',
    '<%= config.bin %> <%= command.id %> --format ui-profile > default-users.json',
  ]

  static flags = {
    sort: Flags.string({summary: 'Sort order.', options: USER_SORTS, default: 'user-id'}),
    limit: Flags.integer({summary: 'Show at most this many users.', min: 1, max: LIMIT_MAX}),
    'inactive-days': Flags.integer({
      summary: 'Only users with no activity (or, never active, created) for at least this many days.',
      min: 0,
      max: DAYS_MAX,
    }),
    format: Flags.string({
      summary:
        'Output format: table (tab-separated when piped), csv, or ui-profile (the web UI defaultUsers JSON).',
      options: [...LIST_FORMATS],
      default: 'table',
      exclusive: ['json'],
    }),
  }

  async run(): Promise<UserListItem[]> {
    const {flags} = await this.parse(UsersList)
    const users = await listUsers(
      await this.db(),
      {sort: flags.sort as UserSort, limit: flags.limit, inactiveDays: flags['inactive-days']},
      defaultContext('users list'),
    )
    const format = flags.format as ListFormat
    if (this.jsonEnabled()) return users
    if (format === 'csv') {
      this.log(usersCsv(users).replace(/\n$/, ''))
    } else if (format === 'ui-profile') {
      this.log(JSON.stringify(uiProfiles(users), null, 2))
    } else {
      if (users.length === 0 && process.stdout.isTTY) {
        this.log('No users found.')
      } else {
        this.log(userTable(users))
      }
    }
    return users
  }
}
