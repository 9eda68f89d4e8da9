import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {defaultContext} from '../../services/context.js'
import {createUser, DEFAULT_APP, type UsersCreateResult, validateCreateUser} from '../../services/users.js'
import {formatWarning} from '../../ui/format.js'
import {FailedAfterCommitError, type KeyDelivery, KeyOutput, keyFlags} from '../../ui/key-output.js'
import {askNewUser} from '../../ui/prompts.js'
import {creationMessage} from '../../ui/render.js'

export type UsersCreateCommandResult = Omit<UsersCreateResult, 'apiKey'> & {
  apiKey: string | null
} & KeyDelivery

export default class UsersCreate extends BaseCommand {
  static writes = true

  static summary = 'Create a user with an API key and a default app, in one transaction.'

  static description =
    `Writes the user row, the SHA-256 hash of a new mem_lab_ key and the user's app exactly as the OpenMemory server does. The plain key is shown once and never stored.

On a terminal, a missing userId (and then name and email) is asked for.`

  static examples = [
    '<%= config.bin %> <%= command.id %> charlie "Charlie Brown" charlie@example.com',
    '<%= config.bin %> <%= command.id %> dana --key-file ./dana.key',
    '<%= config.bin %> <%= command.id %> erin --mcp-config --api-url https://memory.example.com',
    '<%= config.bin %> <%= command.id %> frank --json | jq -r .apiKey',
  ]

  static args = {
    userId: Args.string({description: 'Login name: 3-20 of a-z, 0-9, _ (starting with a letter).'}),
    name: Args.string({description: 'Display name, 1-50 characters (default: the userId title-cased).'}),
    email: Args.string({description: 'Email address (unique, case-insensitive).'}),
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
    const json = this.jsonEnabled()
    let {userId, name, email} = args
    if (userId === undefined) {
      ;({userId, name, email} = await askNewUser({
        json,
        hint: 'openmemory users create <userId> [name] [email]',
      }))
    }
    const output = new KeyOutput(flags)
    const ctx = defaultContext('users create')
    // Validation happens in the service before any write; the key file is created first so a
    // file problem (it exists) stops the command before the database is touched.
    await validateCreateUser({userId, name, email, keyLength: flags['key-length'], appName: flags.app})
    output.prepare()
    let result: UsersCreateResult
    try {
      result = await createUser(
        await this.db(),
        {
          userId,
          name,
          email,
          keyLength: flags['key-length'],
          appName: flags.app,
          reuseDeletedId: flags['reuse-deleted-id'],
        },
        ctx,
        {beforeCommit: (key) => output.beforeCommit(key)},
      )
    } catch (error) {
      output.abort()
      throw error
    }
    output.committed()
    try {
      this.log(creationMessage(result))
      if (result.reusedDeletedId) {
        process.stderr.write(
          `${formatWarning(`userId '${result.userId}' belonged to a user this tool deleted (${result.reusedDeletedId}): if that user's vector-store points were not deleted (Qdrant: delete points by filter on payload user_id), '${result.userId}' will find the old memories through search.`)}\n`,
        )
      }
      const delivery = output.deliver(result.apiKey, json, (line) => this.log(line))
      return {...result, apiKey: delivery.keyFile ? null : result.apiKey, ...delivery}
    } catch (error) {
      throw new FailedAfterCommitError(
        `user ${result.userId} was created with key ${result.keyFingerprint}${output.keyFile ? ` (written to ${output.keyFile})` : " (not shown: run 'openmemory keys rotate' to get a usable key)"}`,
        {
          userId: result.userId,
          id: result.id,
          keyFingerprint: result.keyFingerprint,
          keyFile: output.keyFile,
        },
        error,
      )
    }
  }
}
