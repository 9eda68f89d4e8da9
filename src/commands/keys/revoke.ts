import {BaseCommand} from '../../base-command.js'
import {type RevokeFlowResult, revokeFlow} from '../../flows/revoke.js'
import {defaultContext} from '../../services/context.js'
import {confirmFlags} from '../../ui/confirm-flags.js'
import {requireUserId} from '../../ui/prompts.js'
import {userIdArg} from '../../ui/user-id-arg.js'

export default class KeysRevoke extends BaseCommand {
  static writes = true

  static summary = "Make a user's key inactive (idempotent)."

  static description =
    "The key row is kept (inactive), so 'keys list' and the audit trail still show it. Issue a new key with 'keys rotate'."

  static examples = [
    '<%= config.bin %> <%= command.id %> charlie',
    '<%= config.bin %> <%= command.id %> charlie --json',
  ]

  static args = {userId: userIdArg}

  static flags = {...confirmFlags}

  async run(): Promise<RevokeFlowResult> {
    const {args, flags} = await this.parse(KeysRevoke)
    const userId = await requireUserId(
      args.userId,
      this.jsonEnabled(),
      'openmemory keys revoke <userId>',
      () => this.db(),
    )
    return revokeFlow(
      this.io(),
      await this.db(),
      {userId, dryRun: flags['dry-run'], yes: flags.yes},
      defaultContext('keys revoke'),
    )
  }
}
