import {BaseCommand} from '../../base-command.js'
import {reactivateFlow} from '../../flows/reactivate.js'
import {defaultContext} from '../../services/context.js'
import type {ReactivateResult} from '../../services/lifecycle.js'
import {requireUserId} from '../../ui/prompts.js'
import {userIdArg} from '../../ui/user-id-arg.js'

export default class UsersReactivate extends BaseCommand {
  static writes = true

  static summary = "Restore a deactivated user's access: the key and apps deactivation switched off."

  static examples = [
    '<%= config.bin %> <%= command.id %> charlie',
    '<%= config.bin %> <%= command.id %> charlie --json',
  ]

  static args = {userId: userIdArg}

  async run(): Promise<ReactivateResult> {
    const {args} = await this.parse(UsersReactivate)
    const userId = await requireUserId(
      args.userId,
      this.jsonEnabled(),
      'openmemory users reactivate <userId>',
      () => this.db(),
    )
    return reactivateFlow(this.io(), await this.db(), {userId}, defaultContext('users reactivate'))
  }
}
