import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {countMemories, type MemoriesCountResult, type MemoryCountRow} from '../../services/memories.js'
import {parseUserId} from '../../services/validation.js'
import {renderTable} from '../../ui/format.js'

export default class MemoriesCount extends BaseCommand {
  static summary = 'Count memories per user (and per app) by state, with totals.'

  static description =
    'States come from the database: active, archived and deleted, plus paused on upstream databases. One grouped query whatever the number of users.'

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> charlie --by-app',
    '<%= config.bin %> <%= command.id %> --json',
  ]

  static args = {userId: Args.string({description: 'Only this user.'})}

  static flags = {
    'by-app': Flags.boolean({summary: 'One row per app of each user.'}),
  }

  async run(): Promise<MemoriesCountResult> {
    const {args, flags} = await this.parse(MemoriesCount)
    const userId = args.userId === undefined ? undefined : parseUserId(args.userId)
    const r = await countMemories(await this.db(), {userId, byApp: flags['by-app']})
    const rows: (MemoryCountRow & {label?: string})[] = [...r.rows, {userId: 'TOTAL', app: '', ...r.totals}]
    this.log(
      renderTable(rows, [
        {header: 'USER ID', value: (x) => x.userId},
        ...(r.byApp ? [{header: 'APP', value: (x: MemoryCountRow) => x.app ?? ''}] : []),
        ...r.states.map((s) => ({
          header: s.toUpperCase(),
          value: (x: MemoryCountRow) => x.counts[s] ?? 0,
          align: 'right' as const,
        })),
        {header: 'TOTAL', value: (x) => x.total, align: 'right'},
      ]),
    )
    return r
  }
}
