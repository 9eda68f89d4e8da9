import {BaseCommand} from '../../base-command.js'
import {runMigrations} from '../../db/client.js'
import {dbStatus, type SchemaKind} from '../../services/status.js'
import {formatWarning} from '../../ui/format.js'

export interface DbMigrateResult {
  target: string
  schemaBefore: SchemaKind
  schemaAfter: SchemaKind
  applied: string[]
  added: string[]
}

export default class DbMigrate extends BaseCommand {
  static writes = true
  static createsDatabase = true
  static guardsSchema = false

  static summary = "Create the schema, or adopt the server's existing database."

  static description =
    `On an empty database, creates the whole multi-user schema. On a database the multi-user server created, changes nothing the server owns and only adds the tool's own tables (schema openmemory_admin). On an upstream (single-user) OpenMemory database, adds only api_keys and users.last_active. Running it again changes nothing; two runs at once are serialised by an advisory lock.

The embedded database is migrated automatically.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    {
      description: 'A server database, named by the variable the server itself reads.',
      command:
        'DATABASE_URL=postgresql://openmemory:***@db:5432/openmemory <%= config.bin %> <%= command.id %>',
    },
    '<%= config.bin %> <%= command.id %> --json',
  ]

  async run(): Promise<DbMigrateResult> {
    await this.parse(DbMigrate)
    const database = await this.connect({migrate: false})
    const before = await dbStatus(database)
    this.note(`Migrating ${database.target.display} (${before.schema} schema)...`)
    const {applied} = await runMigrations(database)
    const after = await dbStatus(database)
    const result: DbMigrateResult = {
      target: database.target.display,
      schemaBefore: before.schema,
      schemaAfter: after.schema,
      applied,
      added: before.missing,
    }
    if (applied.length === 0) this.log('Schema is up to date; nothing changed.')
    else {
      this.log(`Applied ${applied.length} migration(s): ${applied.join(', ')}.`)
      if (before.missing.length > 0) this.log(`Added to the server's schema: ${before.missing.join(', ')}.`)
    }
    if (after.incompatibilities.length > 0) {
      this.note(
        formatWarning(
          `${after.incompatibilities.length} incompatibilities remain; see 'openmemory db status'.`,
        ),
      )
    }
    return result
  }
}
