import {BaseCommand} from '../../base-command.js'
import {defaultContext} from '../../services/context.js'
import {type KeysRevokeResult, revokeKey} from '../../services/key-lifecycle.js'
import {confirmFlags} from '../../ui/confirm-flags.js'
import {confirmDestructive, requireUserId} from '../../ui/prompts.js'
import {MCP_SESSION_NOTE, revocationMessage} from '../../ui/render.js'
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

  async run(): Promise<KeysRevokeResult & {cancelled?: true}> {
    const {args, flags} = await this.parse(KeysRevoke)
    const userId = await requireUserId(
      args.userId,
      this.jsonEnabled(),
      'openmemory keys revoke <userId>',
      () => this.db(),
    )
    const db = await this.db()
    const ctx = defaultContext('keys revoke')
    const preview = await revokeKey(db, userId, ctx, {dryRun: true})
    if (flags['dry-run'] || !preview.changed) {
      this.log(revocationMessage(preview))
      // dryRun is true only when --dry-run was given (not for "already revoked").
      return {...preview, dryRun: flags['dry-run'] === true}
    }
    const ok = await confirmDestructive({
      yes: flags.yes,
      json: this.jsonEnabled(),
      action: `revoke the key of ${userId}`,
      message: `Revoke the key of ${userId} (${preview.keyFingerprint})? It stops working at once; 'keys rotate' issues a new one.`,
    })
    if (!ok) {
      this.log('Cancelled; nothing changed.')
      return {...preview, changed: false, dryRun: false, cancelled: true}
    }
    const r = await revokeKey(db, userId, ctx)
    this.log(revocationMessage(r))
    if (r.changed) this.note(MCP_SESSION_NOTE)
    return r
  }
}
