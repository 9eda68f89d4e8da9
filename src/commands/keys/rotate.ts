import {BaseCommand} from '../../base-command.js'
import {defaultContext} from '../../services/context.js'
import {
  type KeysRotateResult,
  previewRotation,
  type RotationPreview,
  rotateKey,
} from '../../services/key-lifecycle.js'
import {confirmFlags} from '../../ui/confirm-flags.js'
import {FailedAfterCommitError, type KeyDelivery, KeyOutput, keyFlags} from '../../ui/key-output.js'
import {confirmDestructive, requireUserId} from '../../ui/prompts.js'
import {MCP_SESSION_NOTE, rotationMessage} from '../../ui/render.js'
import {userIdArg} from '../../ui/user-id-arg.js'

/** The rotation (key shown once), or with --dry-run / a declined confirmation what it would do. */
export type KeysRotateCommandResult =
  | (Omit<KeysRotateResult, 'apiKey'> & {apiKey: string | null} & KeyDelivery)
  | (RotationPreview & {cancelled?: boolean})

export default class KeysRotate extends BaseCommand {
  static writes = true

  static summary = "Replace a user's key with a new one; the old key stops working at once."

  static description =
    `The new key's hash replaces the old one in the user's single key row in one transaction (created now, never used). A user without a key row (upstream databases) gets one. A deactivated user's new key stays inactive until 'users reactivate'.`

  static examples = [
    '<%= config.bin %> <%= command.id %> charlie',
    '<%= config.bin %> <%= command.id %> charlie --key-file ./charlie.key',
    '<%= config.bin %> <%= command.id %> charlie --json | jq -r .apiKey',
  ]

  static args = {userId: userIdArg}

  static flags = {...keyFlags, ...confirmFlags}

  async run(): Promise<KeysRotateCommandResult> {
    const {args, flags} = await this.parse(KeysRotate)
    const json = this.jsonEnabled()
    const userId = await requireUserId(args.userId, json, 'openmemory keys rotate <userId>', () => this.db())
    const preview = await previewRotation(await this.db(), userId)
    if (flags['dry-run']) {
      this.log(
        `Would replace the key of ${userId}${preview.previousFingerprint ? ` (${preview.previousFingerprint} would stop working)` : ' (it has no key row; one would be added)'}${preview.active ? '' : '; the user is deactivated, so the new key would stay inactive'}. Nothing changed (dry run).`,
      )
      return preview
    }
    const ok = await confirmDestructive({
      yes: flags.yes,
      json,
      action: `rotate the key of ${userId}`,
      message: `Replace the key of ${userId}?${preview.previousFingerprint ? ` The current key (${preview.previousFingerprint}) stops working at once.` : ''}`,
    })
    if (!ok) {
      this.log('Cancelled; nothing changed.')
      return {...preview, cancelled: true}
    }
    const output = new KeyOutput(flags)
    output.prepare()
    let r: KeysRotateResult
    try {
      r = await rotateKey(
        await this.db(),
        userId,
        {keyLength: flags['key-length'], beforeCommit: (key) => output.beforeCommit(key)},
        defaultContext('keys rotate'),
      )
    } catch (error) {
      output.abort()
      throw error
    }
    output.committed()
    const committed = {
      userId,
      keyFingerprint: r.keyFingerprint,
      previousFingerprint: r.previousFingerprint,
      keyFile: output.keyFile,
    }
    try {
      const message = rotationMessage(r)
      this.log(message.line)
      if (message.warning) this.note(message.warning)
      if (r.previousFingerprint) this.note(MCP_SESSION_NOTE)
      const delivery = output.deliver(r.apiKey, json, (line) => this.log(line))
      return {...r, apiKey: delivery.keyFile ? null : r.apiKey, ...delivery}
    } catch (error) {
      throw new FailedAfterCommitError(
        `the key of ${userId} was replaced by ${r.keyFingerprint}${output.keyFile ? ` (written to ${output.keyFile})` : ' (not shown: rotate again to get a usable key)'} and the old key${r.previousFingerprint ? ` ${r.previousFingerprint}` : ''} no longer works`,
        committed,
        error,
      )
    }
  }
}
