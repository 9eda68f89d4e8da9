import {BaseCommand} from '../../base-command.js'
import {showUser, type UsersShowResult} from '../../services/lifecycle.js'
import {parseUserId} from '../../services/validation.js'
import {colors, formatDate, renderTable} from '../../ui/format.js'
import {requireUserId} from '../../ui/prompts.js'
import {userIdArg} from '../../ui/user-id-arg.js'

export default class UsersShow extends BaseCommand {
  static summary = 'Show one user in full: key, apps and memory counts by state.'

  static description =
    'The key is shown by its fingerprint (the first 8 hex characters of its SHA-256 hash), never the key.'

  static examples = [
    '<%= config.bin %> <%= command.id %> charlie',
    '<%= config.bin %> <%= command.id %> charlie --json',
  ]

  static args = {userId: userIdArg}

  async run(): Promise<UsersShowResult> {
    const {args} = await this.parse(UsersShow)
    const userId = parseUserId(
      await requireUserId(args.userId, this.jsonEnabled(), 'openmemory users show <userId>'),
    )
    const u = await showUser(await this.db(), userId)
    const c = colors()
    this.log(`${c.bold(u.userId)}  ${u.name ?? ''}${u.email ? ` <${u.email}>` : ''}`)
    this.log(`  id:           ${u.id}`)
    this.log(`  created:      ${formatDate(u.createdAt, '-')}`)
    this.log(`  last active:  ${formatDate(u.lastActive)}`)
    this.log(
      `  status:       ${u.deactivated ? c.yellow(`deactivated ${formatDate(u.deactivated.at)}${u.deactivated.reason ? ` (${u.deactivated.reason})` : ''}`) : c.green('active')}`,
    )
    if (u.key) {
      this.log(
        `  key:          ${u.key.status === 'active' ? c.green('active') : c.red('revoked')}, fingerprint ${u.key.fingerprint}, created ${formatDate(u.key.createdAt, '-')}, last used ${formatDate(u.key.lastUsed)}`,
      )
    } else
      this.log(`  key:          ${c.red('none')} (run 'openmemory keys rotate ${u.userId}' to issue one)`)
    this.log('')
    const states = Object.keys(u.memories)
    this.log(
      renderTable(
        [
          ...u.apps.map((a) => ({
            name: a.name,
            active: a.isActive ? 'yes' : 'no',
            counts: a.memories,
            total: a.total,
          })),
          {name: 'TOTAL', active: '', counts: u.memories, total: u.totalMemories},
        ],
        [
          {header: 'APP', value: (r) => r.name},
          {header: 'ACTIVE', value: (r) => r.active},
          ...states.map((s) => ({
            header: s.toUpperCase(),
            value: (r: {counts: Record<string, number>}) => r.counts[s] ?? 0,
            align: 'right' as const,
          })),
          {header: 'TOTAL', value: (r) => r.total, align: 'right'},
        ],
      ),
    )
    return u
  }
}
