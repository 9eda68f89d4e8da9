import {BaseCommand} from '../../base-command.js'
import {showUser, type UsersShowResult} from '../../services/lifecycle.js'
import {requireUserId} from '../../ui/prompts.js'
import {userDetails} from '../../ui/render.js'
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
    const userId = await requireUserId(
      args.userId,
      this.jsonEnabled(),
      'openmemory users show <userId>',
      () => this.db(),
    )
    const u = await showUser(await this.db(), userId)
    this.log(userDetails(u))
    return u
  }
}
