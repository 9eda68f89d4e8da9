import {BaseCommand} from '../../base-command.js'
import {defaultContext} from '../../services/context.js'
import {type KeysRevokeResult, revokeKey} from '../../services/key-lifecycle.js'
import {parseUserId} from '../../services/validation.js'
import {requireUserId} from '../../ui/prompts.js'
import {revocationMessage} from '../../ui/render.js'
import {userIdArg} from '../../ui/user-id-arg.js'

export default class KeysRevoke extends BaseCommand {
  static summary = "Make a user's key inactive (idempotent)."

  static description =
    "The key row is kept (inactive), so 'keys list' and the audit trail still show it. Issue a new key with 'keys rotate'."

  static examples = [
    '<%= config.bin %> <%= command.id %> charlie',
    '<%= config.bin %> <%= command.id %> charlie --json',
  ]

  static args = {userId: userIdArg}

  async run(): Promise<KeysRevokeResult> {
    const {args} = await this.parse(KeysRevoke)
    const userId = parseUserId(
      await requireUserId(args.userId, this.jsonEnabled(), 'openmemory keys revoke <userId>', () =>
        this.db(),
      ),
    )
    const r = await revokeKey(await this.db(), userId, defaultContext('keys revoke'))
    this.log(revocationMessage(r))
    return r
  }
}
