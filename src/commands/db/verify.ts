import {Flags} from '@oclif/core'
import {BaseCommand} from '../../base-command.js'
import {CheckFailedError} from '../../errors.js'
import {type DbVerifyResult, verifyDatabase} from '../../services/verify.js'
import {formatCheck} from '../../ui/checks.js'

export default class DbVerify extends BaseCommand {
  static summary = 'Audit isolation and integrity: cross-user memories, orphans, half-deactivations.'

  static description =
    `Read-only. Each check is one query over the whole database (fast on millions of memories), all in one consistent snapshot. Prints every check with its count and up to five sample ids (memory, app and key ids; userIds for user checks; key fingerprints for duplicate hashes):

  - memories whose app belongs to another user (a cross-user leak)
  - memories, apps, API keys and category links that reference a missing user, app or memory
  - users with no API key, or no app named 'default'
  - key hashes stored more than once
  - half-deactivated users: key inactive but apps active, or key active but every app inactive (users deactivated with 'openmemory users deactivate' are deliberate and not reported)
  - memories in state deleted without deleted_at, archived without archived_at, or with no state

Every check has a severity. error (FAIL): isolation or referential integrity is broken: cross-user memories, anything referencing what does not exist, duplicate key hashes, memories without state, a key switched off by hand. notice (note): what the server itself writes in normal use: memories archived or deleted through its PUT without archived_at/deleted_at, an app switched off by DELETE /api/v1/apps/{id}, users its MCP endpoint created without key or apps. Notices are shown and counted but do not fail the audit; --strict makes them errors.

Exit codes: 0 no errors (notices allowed unless --strict); 1 an error found (the --json output still carries every check).`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    "<%= config.bin %> <%= command.id %> --json | jq '.checks[] | select(.count > 0)'",
    {
      description: 'From cron: mail the findings, and nothing on a clean night.',
      command:
        'out=$(<%= config.bin %> <%= command.id %> --quiet 2>&1) || printf "%s\\n" "$out" | mail -s openmemory-audit ops@example.com',
    },
  ]

  static flags = {
    strict: Flags.boolean({
      summary: 'Treat notices (what the server itself writes) as errors: exit 1 on any finding.',
    }),
    quiet: Flags.boolean({
      char: 'q',
      summary: 'Print nothing when clean; only the checks that found something otherwise (for cron mail).',
    }),
  }

  async run(): Promise<DbVerifyResult> {
    const {flags} = await this.parse(DbVerify)
    const result = await verifyDatabase(await this.db(), {strict: flags.strict})
    // --quiet: for cron, nothing at all when clean, only the findings otherwise.
    for (const check of result.checks) if (!flags.quiet || check.count > 0) this.log(formatCheck(check))
    if (result.clean) {
      if (!flags.quiet) this.log(`No problems found (${result.checks.length} checks).`)
      return result
    }
    if (result.errorCount === 0) {
      const noted = result.checks.filter((c) => c.count > 0)
      this.log(
        `No errors; ${result.noticeCount} notice${result.noticeCount === 1 ? '' : 's'} in ${noted.length} check${noted.length === 1 ? '' : 's'} (what the server itself writes; --strict makes them errors).`,
      )
      return result
    }
    const failing = result.checks.filter((c) => c.count > 0 && c.severity === 'error')
    throw new CheckFailedError(
      `db verify found ${result.errorCount} error${result.errorCount === 1 ? '' : 's'} in ${failing.length} check${failing.length === 1 ? '' : 's'}: ${failing.map((c) => c.id).join(', ')}.`,
      result as unknown as Record<string, unknown>,
    )
  }
}
