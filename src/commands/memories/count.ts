import {Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {countMemories, type MemoriesCountResult} from '../../services/memories.js'
import {memoryCountTable} from '../../ui/render.js'
import {existingUserArg} from '../../ui/user-id-arg.js'

export default class MemoriesCount extends BaseCommand {
  static summary = 'Count memories per user (and per app) by state, with totals.'

  static description =
    'States come from the database: active, archived and deleted, plus paused on upstream databases. One grouped query whatever the number of users.'

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> charlie --by-app',
    '<%= config.bin %> <%= command.id %> --json',
  ]

  static args = {userId: existingUserArg({description: 'Only this user (by its exact userId).'})}

  static flags = {
    'by-app': Flags.boolean({summary: 'One row per app of each user.'}),
  }

  async run(): Promise<MemoriesCountResult> {
    const {args, flags} = await this.parse(MemoriesCount)
    const r = await countMemories(await this.db(), {userId: args.userId, byApp: flags['by-app']})
    this.log(memoryCountTable(r))
    return r
  }
}
