import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {countMemories, type MemoriesCountResult} from '../../services/memories.js'
import {parseUserId} from '../../services/validation.js'
import {memoryCountTable} from '../../ui/render.js'

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
    this.log(memoryCountTable(r))
    return r
  }
}
