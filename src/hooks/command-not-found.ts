/**
 * An unknown command: one line naming what was typed as the user typed it
 * (words, not oclif's internal `user:create:bob`), the closest command when
 * one is plausibly meant, and exit 2 (bad usage). No prompt, so scripts and
 * cron behave the same as a terminal.
 */
import type {Hook} from '@oclif/core'
import {ValidationError} from '../errors.js'
import {argvWantsJson, reportError} from '../ui/report.js'
import {closest, closestCommand} from '../ui/suggest.js'

const hook: Hook<'command_not_found'> = async function (opts) {
  const bin = opts.config.bin
  const typed = opts.id.split(':').filter((w) => w !== '')
  const visible = opts.config.commands.filter((c) => !c.hidden)
  const ids = [...visible.map((c) => c.id), ...visible.flatMap((c) => c.aliases)].map((id) =>
    id.replaceAll(':', ' '),
  )
  const topics = opts.config.topics.filter((t) => !t.hidden).map((t) => t.name.replaceAll(':', ' '))
  // `openmemory --verison`: a mistyped global flag arrives here as a command id.
  const suggestion = typed[0]?.startsWith('-')
    ? closest(typed[0], ['--version', '--help'])
    : closestCommand(typed, ids, topics)
  const topic = typed[0] && opts.config.findTopic(typed[0]) ? ` ${typed[0]}` : ''
  const error = new ValidationError(
    `'${typed.join(' ')}' is not an ${bin} command.${suggestion ? ` Did you mean '${bin} ${suggestion}'?` : ''} Run '${bin} help${topic}' for the list of commands.`,
    suggestion ? [`${bin} ${suggestion}`] : [`${bin} help${topic}`],
  )
  reportError(error, {json: argvWantsJson(opts.argv ?? []), startedAt: new Date()})
  this.exit(error.exitCode)
}

export default hook
