import {Flags, loadHelpClass} from '@oclif/core'
import {BaseCommand} from '../base-command.js'
import {ValidationError} from '../errors.js'
import {isInteractive} from '../ui/prompts.js'

export default class Interactive extends BaseCommand {
  static summary = 'A guided terminal session: choose what to do from a menu.'

  static description =
    `What 'openmemory' with no arguments opens on a terminal (stdin and stderr). It names the target database (password masked) and offers create, list, show, deactivate, reactivate, rotate key, revoke key, delete, count memories, prune inactive users and database status, returning to the menu after each.
Every input is checked as it is typed with the same rules as the arguments; users are chosen from a list you filter by typing. Destructive actions show what will change and ask, defaulting to No; prune shows its dry run first. Esc goes back one question (from the first, back to the menu); Ctrl-C leaves at once (exit 130).
The database is open only while the tool works, never while it waits for you (at the menu or at a question), so other commands run meanwhile without waiting.
Without a terminal, 'openmemory' with no arguments prints the help, and this command exits 2.`

  static examples = [
    '<%= config.bin %>',
    {
      description: 'The menu for a server database.',
      command: '<%= config.bin %> <%= command.id %> --database-url postgres://openmemory@db:5432/openmemory',
    },
  ]

  static enableJsonFlag = false
  static createsDatabase = true

  static flags = {
    // bin/run.js adds it for `openmemory` alone: off a terminal that prints the help, as oclif does.
    'or-help': Flags.boolean({
      hidden: true,
      summary: 'Print the help, not an error, when there is no terminal.',
    }),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Interactive)
    if (!isInteractive()) {
      if (flags['or-help']) {
        const Help = await loadHelpClass(this.config)
        await new Help(this.config, this.config.pjson.oclif.helpOptions).showHelp([])
        return
      }
      throw new ValidationError(
        "Interactive mode needs a terminal (stdin and stderr); run a command instead (see 'openmemory --help').",
      )
    }
    const {runMenu} = await import('../interactive/menu.js')
    // Opened once first, so a wrong URL or a damaged embedded database fails before the menu shows;
    // then per action (the menu releases it while it waits).
    const {target} = await this.connect()
    await runMenu({
      connection: {target, open: () => this.connect(), release: () => this.disconnect()},
      log: (line) => this.log(line),
      secret: (line) => this.logWhole(line),
      warn: (line) => this.note(line),
    })
  }
}
