import {BaseCommand} from '../../base-command.js'
import {type DbStatusResult, dbStatus} from '../../services/status.js'
import {dbStatusLines} from '../../ui/render.js'

export default class DbStatus extends BaseCommand {
  static summary = 'Show where the tool points and whether the schema is compatible.'

  static description =
    `Names the target (password masked) and how it was chosen, the server version, which schema was found (empty, upstream, multi-user, or managed by this tool), pending migrations, and every incompatibility as table, column, expected and found.`

  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']

  async run(): Promise<DbStatusResult> {
    await this.parse(DbStatus)
    const status = await dbStatus(await this.connect())
    this.log(dbStatusLines(status))
    return status
  }
}
