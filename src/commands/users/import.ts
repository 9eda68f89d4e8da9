import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {BusyError} from '../../errors.js'
import {defaultContext} from '../../services/context.js'
import {
  findConflicts,
  ImportProblemsError,
  importUsers,
  parseImportCsv,
  planImport,
} from '../../services/import.js'
import {KEY_LENGTH} from '../../services/keys.js'
import {
  assertDestination,
  type BulkKeySink,
  type Destination,
  deliveryFlags,
  openBulkSink,
} from '../../ui/bulk-keys.js'
import {progressBar} from '../../ui/progress.js'
import {DEFAULT_API_URL, DEFAULT_MCP_CLIENT} from '../../ui/secrets.js'
import {readInputText} from '../../ui/stdin.js'

export interface UsersImportResult {
  source: string
  dryRun: boolean
  created: number
  skipped: number
  createdUserIds: string[]
  skippedUserIds: string[]
  destination: Destination | null
  durationMs: number
}

/** The run lock shared by the bulk key commands (`users import`, `keys rotate --older-than`). */
export const BULK_LOCK = 'bulk-keys'
const MAX_INPUT_BYTES = 64 * 1024 * 1024

export default class UsersImport extends BaseCommand {
  static writes = true

  static summary =
    'Create many users from a CSV, all or nothing, and deliver their keys to files or sealed with age.'

  static description =
    `The CSV has a header row with the columns 'users list --format csv' writes: userId, name and email are required (name and email cells may be empty), app or apps (names joined with ;) is optional, other columns are ignored.

Every row is checked before anything is written: the userId, name and email rules of 'users create', duplicates inside the file, and users or emails (case-insensitively) the database already has. Any problem exits 2 naming each by line (the first 20, then a count); nothing is written. Otherwise all users, keys, apps and audit rows go in one transaction.

Keys go to exactly one of --key-dir, --keys-out or --seal-to with --out; they are written and fsynced before the commit and removed if it fails. Only on a terminal may they be shown instead; they are never printed to a pipe or into JSON.`

  static examples = [
    '<%= config.bin %> <%= command.id %> team.csv --dry-run',
    '<%= config.bin %> <%= command.id %> team.csv --key-dir ./team-keys --mcp-config --api-url https://memory.example.com',
    '<%= config.bin %> <%= command.id %> team.csv --seal-to age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p --out team-keys.age',
    'openmemory users list --format csv | <%= config.bin %> <%= command.id %> - --skip-existing --keys-out new-keys.csv --json',
  ]

  static args = {
    file: Args.string({description: "CSV file to import, or '-' for stdin.", required: true}),
  }

  static flags = {
    ...deliveryFlags,
    'mcp-config': Flags.boolean({
      summary:
        'With --key-dir: also write <userId>.mcp.json (the MCP client config for the key) beside each key.',
      dependsOn: ['key-dir'],
    }),
    'mcp-client': Flags.string({
      summary: `Client name in the MCP URL /mcp/<name>/sse (default: ${DEFAULT_MCP_CLIENT}).`,
      dependsOn: ['mcp-config'],
    }),
    'api-url': Flags.string({
      summary: `OpenMemory API URL for --mcp-config (default: OPENMEMORY_API_URL, else ${DEFAULT_API_URL}).`,
      dependsOn: ['mcp-config'],
    }),
    'skip-existing': Flags.boolean({
      summary: 'Leave rows whose userId already exists untouched (and report them).',
    }),
    'dry-run': Flags.boolean({
      summary: 'Validate everything and report what would be created; change nothing.',
    }),
    'key-length': Flags.integer({
      summary: `Random characters after the mem_lab_ prefix (${KEY_LENGTH.min}-${KEY_LENGTH.max}).`,
      default: KEY_LENGTH.default,
      min: KEY_LENGTH.min,
      max: KEY_LENGTH.max,
    }),
  }

  async run(): Promise<UsersImportResult> {
    const started = this.startedAt.getTime()
    const {args, flags} = await this.parse(UsersImport)
    const json = this.jsonEnabled()
    const dryRun = Boolean(flags['dry-run'])
    if (!dryRun) assertDestination(flags, json, 'A bulk import')

    const {text, source} = await readInputText(args.file, MAX_INPUT_BYTES)
    const {rows, problems} = parseImportCsv(text)

    const database = await this.connect()
    const plan = planImport(rows, problems, await findConflicts(database.db, rows), {
      skipExisting: flags['skip-existing'],
    })
    if (plan.problems.length > 0) throw new ImportProblemsError(plan.problems, source)

    const base = {
      source,
      dryRun,
      skipped: plan.skipped.length,
      createdUserIds: plan.create.map((r) => r.userId),
      skippedUserIds: plan.skipped.map((r) => r.userId),
    }
    const skippedNote = plan.skipped.length > 0 ? `; ${plan.skipped.length} skipped (they exist)` : ''
    if (dryRun) {
      this.note(
        `Dry run: ${plan.create.length} user(s) would be created from ${source}${skippedNote}; nothing changed.`,
      )
      return {...base, created: 0, destination: null, durationMs: Date.now() - started}
    }
    if (plan.create.length === 0) {
      this.note(`Nothing to create from ${source}${skippedNote}.`)
      return {...base, created: 0, destination: null, durationMs: Date.now() - started}
    }

    if (!(await database.acquireRunLock(BULK_LOCK))) {
      throw new BusyError(
        'Another bulk run (users import or keys rotate --older-than) holds the lock on this database; try again when it has finished.',
      )
    }
    const sink: BulkKeySink = await openBulkSink(flags)
    const bar = await progressBar('Importing', !json)
    try {
      await importUsers(
        database.db,
        plan.create,
        {keyLength: flags['key-length']},
        defaultContext('users import'),
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
      `Created ${plan.create.length} user(s) from ${source}${skippedNote} in ${(durationMs / 1000).toFixed(1)} s.`,
    )
    const where = sink.describe()
    if (sink.destination.kind === 'terminal') this.log(where)
    else this.note(where)
    return {...base, created: plan.create.length, destination: sink.destination, durationMs}
  }
}
