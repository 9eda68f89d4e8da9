import {Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {defaultContext} from '../../services/context.js'
import {type DeactivateResult, deactivateUser} from '../../services/lifecycle.js'
import {confirmFlags} from '../../ui/confirm-flags.js'
import {confirmDestructive, requireUserId} from '../../ui/prompts.js'
import {deactivationMessage, deactivationQuestion, MCP_SESSION_NOTE} from '../../ui/render.js'
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

  async run(): Promise<DeactivateResult & {cancelled?: true}> {
    const {args, flags} = await this.parse(UsersDeactivate)
    const userId = await requireUserId(
      args.userId,
      this.jsonEnabled(),
      'openmemory users deactivate <userId>',
      () => this.db(),
    )
    const db = await this.db()
    const ctx = defaultContext('users deactivate')
    const preview = await deactivateUser(db, userId, {reason: flags.reason, dryRun: true}, ctx)
    if (flags['dry-run'] || !preview.changed) {
      this.log(deactivationMessage(preview))
      // dryRun is true only when --dry-run was given (not for "already deactivated").
      return {...preview, dryRun: flags['dry-run'] === true}
    }
    const ok = await confirmDestructive({
      yes: flags.yes,
      json: this.jsonEnabled(),
      action: `deactivate ${userId}`,
      message: deactivationQuestion(preview),
    })
    if (!ok) {
      this.log('Cancelled; nothing changed.')
      return {...preview, changed: false, dryRun: false, cancelled: true}
    }
    const r = await deactivateUser(db, userId, {reason: flags.reason}, ctx)
    this.log(deactivationMessage(r))
    if (r.changed) this.note(MCP_SESSION_NOTE)
    return r
  }
}
