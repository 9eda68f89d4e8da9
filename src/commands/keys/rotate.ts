import {Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {ValidationError} from '../../errors.js'
import {ageFlag, integerFlag} from '../../flags.js'
import {type RotateFlowResult, rotateFlow} from '../../flows/rotate.js'
import {type KeysRotatePolicyResult, rotateByAgeFlow} from '../../flows/rotate-by-age.js'
import {defaultContext} from '../../services/context.js'
import {AGE_UNITS_HELP, DURATION_GRAMMAR} from '../../services/duration.js'
import {DEFAULT_ROTATION_BATCH} from '../../services/key-policy.js'
import {deliveryFlags} from '../../ui/bulk-keys.js'
import {confirmFlags} from '../../ui/confirm-flags.js'
import {keyFlags} from '../../ui/key-output.js'
import {requireUserId} from '../../ui/prompts.js'
import {userIdArg} from '../../ui/user-id-arg.js'

export type {KeysRotatePolicyResult}

/** The rotation (key shown once), or with --dry-run / a declined confirmation what it would do. */
export type KeysRotateCommandResult = RotateFlowResult | KeysRotatePolicyResult

export default class KeysRotate extends BaseCommand {
  static writes = true

  static summary = "Replace a user's key with a new one; the old key stops working at once."

  static description =
    `The new key's hash replaces the old one in the user's single key row in one transaction (created now, never used). A user without a key row (upstream databases) gets one. A deactivated user's new key stays inactive until 'users reactivate'.

With --older-than and no userId, a rotation policy: every active key created longer ago than the age (or of unknown age) gets a new key, all in one transaction (statements in batches), so the old keys stop working at its commit and a failure changes nothing. The new keys go to --key-dir, --keys-out or --seal-to with --out (written and fsynced under temporary names before the transaction, named after its commit); without a terminal one of these is required. Only one bulk run at a time: another exits 75.`

  static examples = [
    '<%= config.bin %> <%= command.id %> charlie',
    '<%= config.bin %> <%= command.id %> charlie --key-file ./charlie.key',
    '<%= config.bin %> <%= command.id %> charlie --json | jq -r .apiKey',
    '<%= config.bin %> <%= command.id %> --older-than 90d --dry-run',
    {
      description: 'Every key older than 90 days, the new keys sealed with age to your own public key.',
      command:
        '<%= config.bin %> <%= command.id %> --older-than 90d --yes --seal-to operator.age.pub --out keys-$(date +%F).age',
    },
  ]

  static args = {userId: userIdArg}

  static flags = {
    ...keyFlags,
    'mcp-config': Flags.boolean({
      ...keyFlags['mcp-config'],
      description: `${keyFlags['mcp-config'].description} With --older-than it is written beside each key: it needs --key-dir.`,
      relationships: [
        {
          type: 'all',
          flags: [
            {name: 'key-dir', when: async (f: Record<string, unknown>) => f['older-than'] !== undefined},
          ],
        },
      ],
    }),
    ...confirmFlags,
    'older-than': ageFlag({
      summary: `Rotate every active key created longer ago than this (no userId): ${AGE_UNITS_HELP}.`,
      description: `An age: whole hours, days, weeks, months or years. ${DURATION_GRAMMAR}`,
      exclusive: ['key-file'],
    }),
    // The bulk destinations deliver the keys of --older-than; one user's key goes to --key-file.
    'key-dir': {...deliveryFlags['key-dir'], dependsOn: ['older-than']},
    'keys-out': {...deliveryFlags['keys-out'], dependsOn: ['older-than']},
    'seal-to': {...deliveryFlags['seal-to'], dependsOn: ['out', 'older-than']},
    out: deliveryFlags.out,
    'batch-size': integerFlag({
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
    const ctx = defaultContext('keys rotate')
    if (flags['older-than'] !== undefined) {
      if (args.userId !== undefined) {
        throw new ValidationError(
          '--older-than rotates every old key: give it without a userId, or drop it to rotate one user.',
        )
      }
      if (flags['mcp-config'] && !flags['key-dir']) {
        throw new ValidationError(
          '--mcp-config with --older-than writes beside each key: it needs --key-dir.',
        )
      }
      return rotateByAgeFlow(
        this.io(),
        () => this.connect(),
        {
          olderThan: flags['older-than'].age,
          cutoff: flags['older-than'].cutoff,
          dryRun: flags['dry-run'],
          yes: flags.yes,
          keyLength: flags['key-length'],
          batchSize: flags['batch-size'],
          delivery: flags,
          started: this.startedAt.getTime(),
        },
        ctx,
      )
    }
    const userId = await requireUserId(args.userId, json, 'openmemory keys rotate <userId>', () => this.db())
    return rotateFlow(
      this.io(),
      await this.db(),
      {userId, keyLength: flags['key-length'], dryRun: flags['dry-run'], yes: flags.yes},
      flags,
      ctx,
    )
  }
}
