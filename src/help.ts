/**
 * oclif's help (`openmemory help users create`, `-h`, `--help`) with two
 * additions to the root page: examples and the environment variables the
 * tool reads. An unknown help subject is reported like an unknown command.
 */
import {Help} from '@oclif/core'
import {ValidationError} from './errors.js'
import {reportError} from './ui/report.js'
import {closestCommand} from './ui/suggest.js'

const ROOT_EXAMPLES = [
  [
    'Create a user; the API key is printed once',
    'openmemory users create charlie "Charlie Brown" charlie@example.com',
  ],
  ['List users (tab-separated when piped)', 'openmemory users list --sort last-active'],
  [
    'Point at the server database',
    'DATABASE_URL=postgresql://openmemory:…@db/openmemory openmemory db status',
  ],
  [
    'Nightly from cron: deactivate users idle for 90 days',
    'openmemory prune-inactive --days 90 --yes --json >>prune.log 2>&1',
  ],
  [
    'Mail the findings of an integrity audit, only when there are some',
    'out=$(openmemory db verify --quiet 2>&1) \\\n    || printf "%s\\n" "$out" | mail -s "openmemory audit" ops@example.com',
  ],
  ['Help on one command', 'openmemory help users create'],
  ['Interactive mode (on a terminal)', 'openmemory'],
]

const ENVIRONMENT = [
  ['OPENMEMORY_DATABASE_URL', 'PostgreSQL URL of the OpenMemory database (after --database-url).'],
  ['DATABASE_URL', "The server's own variable, used when OPENMEMORY_DATABASE_URL is not set."],
  [
    'OPENMEMORY_DATA_DIR',
    'Where the embedded database lives when no URL is set (default ~/.local/share/openmemory/pgdata).',
  ],
  ['OPENMEMORY_CONNECT_TIMEOUT', 'Seconds a connection attempt may take (default 10).'],
  [
    'OPENMEMORY_API_URL',
    'OpenMemory API URL for users test and --mcp-config (default http://localhost:8765).',
  ],
  ['NO_COLOR', 'Set to turn colours off (they are always off in pipes).'],
  ['DEBUG', 'Set to show stack traces of unexpected failures.'],
]

export default class OpenMemoryHelp extends Help {
  async showRootHelp(): Promise<void> {
    await super.showRootHelp()
    const examples = ROOT_EXAMPLES.map(([what, cmd]) => `${what}\n\n  $ ${cmd}`).join('\n\n')
    this.log(this.section('EXAMPLES', examples))
    this.log('')
    this.log(this.section('ENVIRONMENT', this.renderList(ENVIRONMENT, {indentation: 2, spacer: '\n'})))
    this.log('')
  }

  async showHelp(argv: string[]): Promise<void> {
    const typed = argv.filter((a) => !a.startsWith('-'))
    const subject = typed.join(':')
    if (typed.length === 0 || this.config.findCommand(subject) || this.config.findTopic(subject)) {
      await super.showHelp(argv)
      return
    }
    const ids = this.config.commands.filter((c) => !c.hidden).map((c) => c.id.replaceAll(':', ' '))
    const topics = this.config.topics.filter((t) => !t.hidden).map((t) => t.name.replaceAll(':', ' '))
    const suggestion = closestCommand(typed, ids, topics)
    const bin = this.config.bin
    const failure = new ValidationError(
      `No help for '${typed.join(' ')}': it is not an ${bin} command.${suggestion ? ` Did you mean '${bin} help ${suggestion}'?` : ''} Run '${bin} help' for the list of commands.`,
    )
    reportError(failure, {json: false, startedAt: new Date()})
    // Already reported: oclif only exits with the code.
    throw Object.assign(new Error(failure.message), {
      oclif: {exit: failure.exitCode},
      skipOclifErrorHandling: true,
    })
  }
}
