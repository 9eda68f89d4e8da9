import {Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {type DeactivateFlowResult, deactivateFlow} from '../../flows/deactivate.js'
import {defaultContext} from '../../services/context.js'
import {confirmFlags} from '../../ui/confirm-flags.js'
import {requireUserId} from '../../ui/prompts.js'
import {userIdArg} from '../../ui/user-id-arg.js'

export default class UsersDeactivate extends BaseCommand {
  static writes = true

  static summary = "Stop a user's access without losing data: key and apps inactive."

  static description =
    `In one transaction the key becomes inactive and every active app of the user inactive; the tool remembers which apps it switched off, so 'users reactivate' restores exactly those and the key. Memories are kept. Running it again changes nothing.`

  static examples = [
    '<%= config.bin %> <%= command.id %> charlie',
    '<%= config.bin %> <%= command.id %> charlie --reason "left the team"',
    '<%= config.bin %> <%= command.id %> charlie --dry-run',
  ]

  static args = {userId: userIdArg}

  static flags = {
    reason: Flags.string({summary: 'Why, kept with the deactivation and in the audit trail.'}),
    ...confirmFlags,
  }

  async run(): Promise<DeactivateFlowResult> {
    const {args, flags} = await this.parse(UsersDeactivate)
    const userId = await requireUserId(
      args.userId,
      this.jsonEnabled(),
      'openmemory users deactivate <userId>',
      () => this.db(),
    )
    return deactivateFlow(
      this.io(),
      await this.db(),
      {userId, reason: flags.reason, dryRun: flags['dry-run'], yes: flags.yes},
      defaultContext('users deactivate'),
    )
  }
}
