import {Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {type DeleteFlowResult, deleteFlow} from '../../flows/delete.js'
import {defaultContext} from '../../services/context.js'
import {requireUserId} from '../../ui/prompts.js'
import {userIdArg} from '../../ui/user-id-arg.js'

export type UsersDeleteResult = DeleteFlowResult

export default class UsersDelete extends BaseCommand {
  static writes = true

  static summary = 'Remove a user and everything that references them, in one transaction.'

  static description =
    `Deletes the user, their key, apps and memories, and every row that references those memories or the user (memory_categories, and memory_access_logs and memory_status_history where those tables exist). This cannot be undone: consider 'users deactivate' instead.

Memories other users wrote through this user's apps (cross-user rows, which 'db verify' reports) go with the apps: the preview and the question list them by owner, the JSON result has them as otherOwners, and each owner gets an audit row of their own.

On a terminal it asks for confirmation; without one, --yes is required.`

  static examples = [
    '<%= config.bin %> <%= command.id %> charlie --dry-run',
    '<%= config.bin %> <%= command.id %> charlie',
    '<%= config.bin %> <%= command.id %> charlie --yes --json',
  ]

  static args = {userId: userIdArg}

  static flags = {
    yes: Flags.boolean({char: 'y', summary: 'Delete without asking (required without a terminal).'}),
    'dry-run': Flags.boolean({summary: 'Print what would be deleted, row counts per table; delete nothing.'}),
  }

  async run(): Promise<DeleteFlowResult> {
    const {args, flags} = await this.parse(UsersDelete)
    const json = this.jsonEnabled()
    const userId = await requireUserId(args.userId, json, 'openmemory users delete <userId>', () => this.db())
    return deleteFlow(
      this.io(),
      await this.db(),
      {userId, dryRun: flags['dry-run'], yes: flags.yes},
      defaultContext('users delete'),
    )
  }
}
