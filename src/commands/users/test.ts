import {Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {CheckFailedError, ServerUnreachableError} from '../../errors.js'
import {integerFlag} from '../../flags.js'
import {DEFAULT_TIMEOUT_SECONDS, testUser, type UsersTestResult} from '../../services/server-check.js'
import {formatStep} from '../../ui/checks.js'
import {readKey} from '../../ui/read-key.js'
import {sanitize} from '../../ui/sanitize.js'
import {DEFAULT_API_URL} from '../../ui/secrets.js'
import {existingUserArg} from '../../ui/user-id-arg.js'

export default class UsersTest extends BaseCommand {
  static summary = "Test a user's API key end to end: database, login, create a memory, search."

  static description =
    `Reads the key from stdin (the first line; a hidden prompt on a terminal) or --key, then checks, one line per step with its HTTP status and time:

  key            the key is stored for that user and active (database, read-only)
  login          POST /api/v1/auth/login {"api_key": KEY} answers 200 with the same user_id
  create-memory  POST /api/v1/memories/ (Bearer KEY) {"text": ...} answers 200 with an id
  search         POST /api/v1/memories/search?query=... (Bearer KEY) answers 200 with results

Stops at the first failure. The create-memory step leaves one short test memory in the user's account; --no-write skips it. The key is never printed.

Exit codes: 0 every step passed; 1 a step failed (the message names it and why); 3 no such user; 5 the server cannot be reached (connection failed, or no answer to the first request within --timeout).`

  static examples = [
    '<%= config.bin %> <%= command.id %> charlie < charlie.key',
    {
      description: 'Against a server that is not on this host.',
      command:
        '<%= config.bin %> <%= command.id %> charlie --api-url https://memory.example.com < charlie.key',
    },
    'pass show openmemory/charlie | <%= config.bin %> <%= command.id %> charlie --no-write',
    '<%= config.bin %> <%= command.id %> charlie --json < charlie.key | jq .steps',
  ]

  static args = {
    userId: existingUserArg({description: 'The user whose key is tested.', required: true}),
  }

  static flags = {
    'api-url': Flags.string({
      summary: `OpenMemory API base URL (default: OPENMEMORY_API_URL, else ${DEFAULT_API_URL}).`,
    }),
    key: Flags.string({
      summary: 'The API key (default: read from stdin).',
      description: 'A command-line argument is visible to other users in the process list: prefer stdin.',
    }),
    write: Flags.boolean({
      summary: 'Create a test memory (--no-write skips that step).',
      default: true,
      allowNo: true,
    }),
    timeout: integerFlag({
      summary: 'Seconds to wait for each request.',
      default: DEFAULT_TIMEOUT_SECONDS,
      min: 1,
      max: 600,
    }),
  }

  async run(): Promise<UsersTestResult> {
    const {args, flags} = await this.parse(UsersTest)
    const key = await readKey({flag: flags.key, json: this.jsonEnabled()})
    const apiUrl = flags['api-url'] ?? process.env.OPENMEMORY_API_URL ?? DEFAULT_API_URL
    const result = await testUser(await this.db(), {
      userId: args.userId,
      key,
      apiUrl,
      write: flags.write,
      timeoutMs: flags.timeout * 1000,
    })
    this.log(
      `Testing ${sanitize(result.userId)} (key ${result.keyFingerprint}) against ${sanitize(result.apiUrl)}`,
    )
    for (const step of result.steps) this.log(formatStep(step))
    if (result.outcome === 'passed') return result

    const failed = result.steps.find((s) => s.step === result.failedStep)
    const detail = failed?.detail ?? 'unknown reason'
    const what = `Step '${result.failedStep}' (${failed?.request}) failed: ${detail}${/[.?!]$/.test(detail) ? '' : '.'}`
    const data = result as unknown as Record<string, unknown>
    if (result.outcome === 'unreachable') {
      throw new ServerUnreachableError(
        `Cannot reach the OpenMemory server at ${result.apiUrl}. ${what} Check --api-url or OPENMEMORY_API_URL.`,
        data,
      )
    }
    throw new CheckFailedError(what, data)
  }
}
