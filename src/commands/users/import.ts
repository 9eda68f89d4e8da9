import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {ARG, integerFlag} from '../../flags.js'
import {importFlow, type UsersImportResult} from '../../flows/import.js'
import {defaultContext} from '../../services/context.js'
import {KEY_LENGTH} from '../../services/keys.js'
import {deliveryFlags} from '../../ui/bulk-keys.js'
import {mcpTargetFlags} from '../../ui/key-output.js'
import {spoolInput} from '../../ui/stdin.js'

export type {UsersImportResult}

const MAX_INPUT_BYTES = 64 * 1024 * 1024

export default class UsersImport extends BaseCommand {
  static writes = true
  static createsDatabase = true

  static summary = 'Create many users from a CSV, all or nothing; their keys to files or sealed.'

  static description =
    `The CSV has a header row with the columns 'users list --format csv' writes: userId, name and email are required (name and email cells may be empty), app or apps (names joined with ;) is optional, other columns are ignored.

Every row is checked before anything is written: the userId, name and email rules of 'users create', duplicates inside the file, and users or emails (case-insensitively) the database already has. Any problem exits 2 naming each by line (the first 20, then a count); nothing is written. Otherwise all users, keys, apps and audit rows go in one transaction.

Keys go to exactly one of --key-dir, --keys-out or --seal-to with --out; they are written and fsynced under temporary names before the transaction, named after its commit and removed if it fails. Only on a terminal may they be shown instead; they are never printed to a pipe or into JSON.`

  static examples = [
    '<%= config.bin %> <%= command.id %> team.csv --dry-run',
    {
      description: 'One key file per user in a new folder, with an MCP client configuration beside each.',
      command:
        '<%= config.bin %> <%= command.id %> team.csv --key-dir ./team-keys --mcp-config --api-url https://memory.example.com',
    },
    {
      description: 'The keys sealed with age to your own public key.',
      command: '<%= config.bin %> <%= command.id %> team.csv --seal-to operator.age.pub --out team-keys.age',
    },
    {
      description: "Another database's users, from its export on standard input.",
      command:
        'openmemory users list --format csv | <%= config.bin %> <%= command.id %> - --skip-existing --keys-out new-keys.csv --json',
    },
  ]

  static args = {
    file: Args.string({...ARG, description: "CSV file to import, or '-' for stdin.", required: true}),
  }

  static flags = {
    ...deliveryFlags,
    'mcp-config': Flags.boolean({
      summary:
        'With --key-dir: also write <userId>.mcp.json (the MCP client config for the key) beside each key.',
      dependsOn: ['key-dir'],
    }),
    ...mcpTargetFlags,
    'skip-existing': Flags.boolean({
      summary: 'Leave rows whose userId already exists untouched (and report them).',
    }),
    'include-inactive': Flags.boolean({
      summary:
        'Create rows the source shows deactivated or with a revoked key, deactivated (without it they exit 2).',
    }),
    'reuse-deleted-id': Flags.boolean({
      summary: 'Create users whose userId this tool deleted before (warns); without it such rows exit 4.',
      description:
        "The server's vector store (mem0 on Qdrant) keys memories by userId and this tool cannot reach it: delete the old users' points first (Qdrant: delete points by filter on payload user_id).",
    }),
    'dry-run': Flags.boolean({
      summary: 'Validate everything and report what would be created; change nothing.',
    }),
    'key-length': integerFlag({
      summary: `Random characters after the mem_lab_ prefix (${KEY_LENGTH.min}-${KEY_LENGTH.max}).`,
      default: KEY_LENGTH.default,
      min: KEY_LENGTH.min,
      max: KEY_LENGTH.max,
    }),
  }

  async run(): Promise<UsersImportResult> {
    const {args, flags} = await this.parse(UsersImport)
    return importFlow(
      this.io(),
      () => this.connect(),
      {
        read: () => spoolInput(args.file, MAX_INPUT_BYTES),
        skipExisting: flags['skip-existing'],
        reuseDeletedId: flags['reuse-deleted-id'],
        includeInactive: flags['include-inactive'],
        dryRun: flags['dry-run'],
        keyLength: flags['key-length'],
        delivery: flags,
        started: this.startedAt.getTime(),
      },
      defaultContext('users import'),
    )
  }
}
