import {BaseCommand} from '../../base-command.js'
import {defaultContext} from '../../services/context.js'
import {type ReactivateResult, reactivateUser} from '../../services/lifecycle.js'
import {parseUserId} from '../../services/validation.js'
import {requireUserId} from '../../ui/prompts.js'
import {userIdArg} from '../../ui/user-id-arg.js'

export default class UsersReactivate extends BaseCommand {
  static summary = "Restore a deactivated user's access: exactly the key and apps deactivation switched off."

  static examples = [
    '<%= config.bin %> <%= command.id %> charlie',
    '<%= config.bin %> <%= command.id %> charlie --json',
  ]

  static args = {userId: userIdArg}

  async run(): Promise<ReactivateResult> {
    const {args} = await this.parse(UsersReactivate)
    const userId = parseUserId(
      await requireUserId(args.userId, this.jsonEnabled(), 'openmemory users reactivate <userId>'),
    )
    const r = await reactivateUser(await this.db(), userId, defaultContext('users reactivate'))
    if (!r.changed) this.log(`User ${userId} is not deactivated; nothing changed.`)
    else {
      const apps = r.appsReactivated.length ? `apps ${r.appsReactivated.join(', ')}` : 'no apps'
      this.log(`Reactivated ${userId}: ${r.keyReactivated ? 'key' : 'key unchanged'}, ${apps} restored.`)
    }
    return r
  }
}
