import {Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {defaultContext} from '../../services/context.js'
import {type DeleteResult, deleteUser} from '../../services/lifecycle.js'
import {assertCanConfirm, confirm, requireUserId} from '../../ui/prompts.js'
import {deletionQuestion, deletionTable, otherOwnersTable, vectorStoreNote} from '../../ui/render.js'
import {sanitize as s} from '../../ui/sanitize.js'
import {userIdArg} from '../../ui/user-id-arg.js'

export type UsersDeleteResult = DeleteResult & {cancelled: boolean}

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

  async run(): Promise<UsersDeleteResult> {
    const {args, flags} = await this.parse(UsersDelete)
    const json = this.jsonEnabled()
    const userId = await requireUserId(args.userId, json, 'openmemory users delete <userId>', () => this.db())
    const db = await this.db()
    const ctx = defaultContext('users delete')
    if (flags['dry-run']) {
      const plan = await deleteUser(db, userId, {dryRun: true}, ctx)
      this.printRows(plan, 'Would delete')
      this.log('Nothing deleted (dry run).')
      return {...plan, cancelled: false}
    }
    if (!flags.yes) {
      // Fail before showing anything when there is no terminal to ask on.
      assertCanConfirm({yes: flags.yes, json, action: `delete user ${s(userId)}`})
      const plan = await deleteUser(db, userId, {dryRun: true}, ctx)
      this.printRows(plan, 'Will delete')
      const ok = await confirm(deletionQuestion(plan))
      if (!ok) {
        this.log('Cancelled; nothing deleted.')
        return {...plan, cancelled: true}
      }
    }
    const r = await deleteUser(db, userId, {}, ctx)
    this.log(`Deleted user ${s(userId)} (${r.total} rows).`)
    this.note(vectorStoreNote(s(userId)))
    return {...r, cancelled: false}
  }

  private printRows(r: DeleteResult, verb: string): void {
    if (this.jsonEnabled()) return
    this.log(`${verb}:`)
    this.log(deletionTable(r))
    const others = otherOwnersTable(r)
    if (others) this.log(others)
  }
}
