import {BaseCommand} from '../../base-command.js'
import {type DbStatusResult, dbStatus} from '../../services/status.js'
import {colors} from '../../ui/format.js'

export default class DbStatus extends BaseCommand {
  static summary = 'Show where the tool points and whether the schema is compatible.'

  static description =
    `Names the target (password masked) and how it was chosen, the server version, which schema was found (empty, upstream, multi-user, or managed by this tool), pending migrations, and every incompatibility as table, column, expected and found.`

  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']

  async run(): Promise<DbStatusResult> {
    await this.parse(DbStatus)
    const status = await dbStatus(await this.connect())
    const c = colors()
    this.log(`Target:      ${status.target} (from ${status.source})`)
    this.log(`Server:      PostgreSQL ${status.serverVersion} (${status.driver})`)
    this.log(`Schema:      ${status.schema}`)
    this.log(`States:      ${status.memoryStates.join(', ') || '-'}`)
    this.log(
      `Migrations:  ${status.appliedMigrations.length} applied, ${status.pendingMigrations.length} pending${status.pendingMigrations.length ? ` (${status.pendingMigrations.join(', ')}): run 'openmemory db migrate'` : ''}`,
    )
    if (status.missing.length > 0)
      this.log(`Missing:     ${status.missing.join(', ')} (added by 'openmemory db migrate')`)
    if (status.incompatibilities.length === 0) this.log(`Compatible:  ${c.green('yes')}`)
    else {
      this.log(`Compatible:  ${c.red('no')}`)
      for (const i of status.incompatibilities) {
        this.log(`  - ${i.table}${i.column ? `.${i.column}` : ''}: expected ${i.expected}, found ${i.found}`)
      }
    }
    return status
  }
}
