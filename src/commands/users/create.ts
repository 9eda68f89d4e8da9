import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {ARG} from '../../flags.js'
import {CREATE_STEPS, createFlow, createInput, type UsersCreateCommandResult} from '../../flows/create.js'
import {defaultContext} from '../../services/context.js'
import {DEFAULT_APP} from '../../services/users.js'
import {keyFlags} from '../../ui/key-output.js'
import {askSteps} from '../../ui/prompts.js'

export type {UsersCreateCommandResult}

export default class UsersCreate extends BaseCommand {
  static writes = true
  static createsDatabase = true

  static summary = 'Create a user with an API key and a default app, in one transaction.'

  static description =
    `Writes the user row, the SHA-256 hash of a new mem_lab_ key and the user's app exactly as the OpenMemory server does. The plain key is shown once and never stored.

On a terminal, a missing userId (and then name and email) is asked for.`

  static examples = [
    '<%= config.bin %> <%= command.id %> charlie "Charlie Brown" charlie@example.com',
    '<%= config.bin %> <%= command.id %> dana --key-file ./dana.key',
    {
      description: "Also print the MCP client's configuration for the new key.",
      command: '<%= config.bin %> <%= command.id %> erin --mcp-config --api-url https://memory.example.com',
    },
    '<%= config.bin %> <%= command.id %> frank --json | jq -r .apiKey',
  ]

  static args = {
    userId: Args.string({...ARG, description: 'Login name: 3-20 of a-z, 0-9, _ (starting with a letter).'}),
    name: Args.string({
      ...ARG,
      description: 'Display name, 1-50 characters (default: the userId title-cased).',
    }),
    email: Args.string({...ARG, description: 'Email address (unique, case-insensitive).'}),
  }

  static flags = {
    ...keyFlags,
    app: Flags.string({summary: 'Name of the app created for the user.', default: DEFAULT_APP}),
    'reuse-deleted-id': Flags.boolean({
      summary: 'Create even if this tool deleted a user with this id before (warns).',
      description:
        "The server's vector store (mem0 on Qdrant) keys memories by userId and this tool cannot reach it: delete the old user's points first (Qdrant: delete points by filter on payload user_id).",
    }),
  }

  async run(): Promise<UsersCreateCommandResult> {
    const {args, flags} = await this.parse(UsersCreate)
    let {userId, name, email} = args
    if (userId === undefined) {
      ;({userId, name, email} = createInput(
        await askSteps(CREATE_STEPS, {
          json: this.jsonEnabled(),
          hint: 'openmemory users create <userId> [name] [email]',
        }),
      ))
    }
    return createFlow(
      this.io(),
      () => this.db(),
      {
        userId,
        name,
        email,
        keyLength: flags['key-length'],
        appName: flags.app,
        reuseDeletedId: flags['reuse-deleted-id'],
      },
      flags,
      defaultContext('users create'),
    )
  }
}
