import {Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {BusyError, ValidationError} from '../../errors.js'
import {defaultContext} from '../../services/context.js'
import {AGE_UNITS_HELP, parseOlderThan} from '../../services/duration.js'
import {
  type KeysRotateResult,
  previewRotation,
  type RotationPreview,
  rotateKey,
} from '../../services/key-lifecycle.js'
import {
  DEFAULT_ROTATION_BATCH,
  listOldKeys,
  type OldKey,
  rotateKeysOlderThan,
} from '../../services/key-policy.js'
import {assertDestination, type Destination, deliveryFlags, openBulkSink} from '../../ui/bulk-keys.js'
import {confirmFlags} from '../../ui/confirm-flags.js'
import {formatDate, renderTable} from '../../ui/format.js'
import {FailedAfterCommitError, type KeyDelivery, KeyOutput, keyFlags} from '../../ui/key-output.js'
import {progressBar} from '../../ui/progress.js'
import {confirmDestructive, requireUserId} from '../../ui/prompts.js'
import {MCP_SESSION_NOTE, rotationMessage} from '../../ui/render.js'
import {userIdArg} from '../../ui/user-id-arg.js'
import {BULK_LOCK} from '../users/import.js'

/** `keys rotate --older-than`: what a policy run did, or would do. */
export interface KeysRotatePolicyResult {
  olderThan: string
  cutoff: string
  matched: number
  rotated: number
  dryRun: boolean
  cancelled?: boolean
  /** The keys a dry run would rotate (fingerprints, never keys). */
  keys?: OldKey[]
  userIds: string[]
  destination: Destination | null
  durationMs: number
}

/** The rotation (key shown once), or with --dry-run / a declined confirmation what it would do. */
export type KeysRotateCommandResult =
  | (Omit<KeysRotateResult, 'apiKey'> & {apiKey: string | null} & KeyDelivery)
  | (RotationPreview & {cancelled?: boolean})
  | KeysRotatePolicyResult

export default class KeysRotate extends BaseCommand {
  static writes = true

  static summary = "Replace a user's key with a new one; the old key stops working at once."

  static description =
    `The new key's hash replaces the old one in the user's single key row in one transaction (created now, never used). A user without a key row (upstream databases) gets one. A deactivated user's new key stays inactive until 'users reactivate'.

With --older-than and no userId, a rotation policy: every active key created longer ago than the age (or of unknown age) gets a new key, all in one transaction (statements in batches), so the old keys stop working at its commit and a failure changes nothing. The new keys go to --key-dir, --keys-out or --seal-to with --out (written and fsynced before the commit); without a terminal one of these is required. Only one bulk run at a time: another exits 75.`

  static examples = [
    '<%= config.bin %> <%= command.id %> charlie',
    '<%= config.bin %> <%= command.id %> charlie --key-file ./charlie.key',
    '<%= config.bin %> <%= command.id %> charlie --json | jq -r .apiKey',
    '<%= config.bin %> <%= command.id %> --older-than 90d --dry-run',
    '<%= config.bin %> <%= command.id %> --older-than 90d --yes --seal-to age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p --out keys-$(date +%F).age',
  ]

  static args = {userId: userIdArg}

  static flags = {
    ...keyFlags,
    ...confirmFlags,
    'older-than': Flags.string({
      summary: `Rotate every active key created longer ago than this (no userId): ${AGE_UNITS_HELP}.`,
      exclusive: ['key-file'],
    }),
    ...deliveryFlags,
    'batch-size': Flags.integer({
      summary: 'Keys per statement batch with --older-than (all in one transaction).',
      default: DEFAULT_ROTATION_BATCH,
      min: 1,
      max: 10_000,
      helpGroup: 'ADVANCED',
    }),
  }

  async run(): Promise<KeysRotateCommandResult> {
    const {args, flags} = await this.parse(KeysRotate)
    const json = this.jsonEnabled()
    if (flags['older-than'] !== undefined) {
      if (args.userId !== undefined) {
        throw new ValidationError(
          '--older-than rotates every old key: give it without a userId, or drop it to rotate one user.',
        )
      }
      return this.rotatePolicy(flags['older-than'], flags, json)
    }
    if (flags['key-dir'] || flags['keys-out'] || flags['seal-to']) {
      throw new ValidationError(
        '--key-dir, --keys-out and --seal-to deliver the keys of --older-than; for one user use --key-file.',
      )
    }
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

  private async rotatePolicy(
    olderThan: string,
    flags: {
      yes?: boolean
      'dry-run'?: boolean
      'key-length': number
      'batch-size': number
      'key-dir'?: string
      'keys-out'?: string
      'seal-to'?: string
      out?: string
      'mcp-config'?: boolean
      'api-url'?: string
      'mcp-client'?: string
    },
    json: boolean,
  ): Promise<KeysRotatePolicyResult> {
    const started = this.startedAt.getTime()
    const cutoff = parseOlderThan(olderThan)
    const dryRun = Boolean(flags['dry-run'])
    if (flags['mcp-config'] && !flags['key-dir']) {
      throw new ValidationError('--mcp-config with --older-than writes beside each key: it needs --key-dir.')
    }
    if (!dryRun) assertDestination(flags, json, 'A bulk rotation')
    const database = await this.connect()
    const base = {olderThan, cutoff: cutoff.toISOString()}
    const old = await listOldKeys(database.db, cutoff)
    if (dryRun) {
      if (!json && old.length > 0) {
        this.log(
          renderTable(old, [
            {header: 'USER ID', value: (k) => k.userId},
            {header: 'FINGERPRINT', value: (k) => k.fingerprint},
            {header: 'CREATED', value: (k) => formatDate(k.createdAt, 'unknown')},
          ]),
        )
      }
      this.note(
        `Dry run: ${old.length} active key(s) created before ${cutoff.toISOString()} would be rotated; nothing changed.`,
      )
      return {
        ...base,
        matched: old.length,
        rotated: 0,
        dryRun,
        keys: old,
        userIds: old.map((k) => k.userId),
        destination: null,
        durationMs: Date.now() - started,
      }
    }
    const nothing = {...base, rotated: 0, dryRun, userIds: [], destination: null}
    if (old.length === 0) {
      this.note(`No active key was created before ${cutoff.toISOString()}; nothing to rotate.`)
      return {...nothing, matched: 0, durationMs: Date.now() - started}
    }
    const ok = await confirmDestructive({
      yes: flags.yes,
      json,
      action: `rotate ${old.length} key(s)`,
      message: `Rotate ${old.length} active key(s) created before ${cutoff.toISOString()}? Their current keys stop working at once.`,
    })
    if (!ok) {
      this.log('Cancelled; nothing changed.')
      return {...nothing, matched: old.length, cancelled: true, durationMs: Date.now() - started}
    }
    if (!(await database.acquireRunLock(BULK_LOCK))) {
      throw new BusyError(
        'Another bulk run (users import or keys rotate --older-than) holds the lock on this database; try again when it has finished.',
      )
    }
    const sink = await openBulkSink(flags)
    const bar = await progressBar('Rotating', !json)
    let r: Awaited<ReturnType<typeof rotateKeysOlderThan>>
    try {
      r = await rotateKeysOlderThan(
        database.db,
        {
          cutoff,
          keyLength: flags['key-length'],
          batchSize: flags['batch-size'],
          reason: `keys rotate --older-than ${olderThan}`,
        },
        defaultContext('keys rotate'),
        {
          onStart: (n) => bar.start(n),
          onProgress: (n) => bar.update(n),
          beforeCommit: (keys) => sink.write(keys),
        },
      )
    } catch (error) {
      sink.abort()
      throw error
    } finally {
      bar.stop()
    }
    const durationMs = Date.now() - started
    this.note(
      `Rotated ${r.rotated} key(s) created before ${r.cutoff} in ${(durationMs / 1000).toFixed(1)} s; the old keys no longer work.`,
    )
    if (r.rotated > 0) {
      const where = sink.describe()
      if (sink.destination.kind === 'terminal') this.log(where)
      else this.note(where)
    } else sink.abort()
    return {
      ...base,
      matched: old.length,
      rotated: r.rotated,
      dryRun,
      userIds: r.userIds,
      destination: r.rotated > 0 ? sink.destination : null,
      durationMs,
    }
  }
}
