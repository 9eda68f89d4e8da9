import {Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {defaultContext} from '../../services/context.js'
import {listUsers, USER_SORTS, type UserListItem, type UserSort} from '../../services/users.js'
import {formatDate, renderTable} from '../../ui/format.js'

export default class UsersList extends BaseCommand {
  static summary = 'List users with key status, active memories, apps and activity.'

  static description =
    `One query whatever the number of users. A table on a terminal; tab-separated text with a header when piped.

Sorting: user-id (A-Z, the default), created (newest first), last-active (most recent first), memories (most first).`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --sort last-active --limit 20',
    '<%= config.bin %> <%= command.id %> --inactive-days 90',
    '<%= config.bin %> <%= command.id %> --json | jq -r ".[].userId"',
  ]

  static flags = {
    sort: Flags.string({summary: 'Sort order.', options: USER_SORTS, default: 'user-id'}),
    limit: Flags.integer({summary: 'Show at most this many users.', min: 1}),
    'inactive-days': Flags.integer({
      summary: 'Only users with no activity (or, never active, created) for at least this many days.',
      min: 0,
    }),
  }

  async run(): Promise<UserListItem[]> {
    const {flags} = await this.parse(UsersList)
    const users = await listUsers(
      await this.db(),
      {sort: flags.sort as UserSort, limit: flags.limit, inactiveDays: flags['inactive-days']},
      defaultContext('users list'),
    )
    if (!this.jsonEnabled()) {
      if (users.length === 0 && process.stdout.isTTY) {
        this.log('No users found.')
      } else {
        this.log(
          renderTable(users, [
            {header: 'USER ID', value: (u) => u.userId},
            {header: 'NAME', value: (u) => u.name ?? ''},
            {header: 'EMAIL', value: (u) => u.email ?? ''},
            {header: 'KEY', value: (u) => (u.deactivated ? `${u.keyStatus} (deactivated)` : u.keyStatus)},
            {header: 'MEMORIES', value: (u) => u.activeMemories, align: 'right'},
            {header: 'APPS', value: (u) => u.apps.join(', ')},
            {header: 'CREATED', value: (u) => formatDate(u.createdAt, '')},
            {header: 'LAST ACTIVE', value: (u) => formatDate(u.lastActive)},
          ]),
        )
      }
    }
    return users
  }
}
