/**
 * oclif's help, version and autocomplete commands, bundled as commands of
 * this CLI instead of loaded as plugins. Every command paid for the plugins at
 * start-up (about 11 ms: each one's package.json and manifest read, its
 * folder found, and every dependency of ours matched against the plugin list
 * with minimatch); now oclif loads no plugin at all.
 *
 * Their packages export only an index, so the command files are imported by
 * path (bundled at build time; the packages stay dependencies, pinned).
 */
import {commands as help} from '@oclif/plugin-help'
import AutocompleteCreate from '../node_modules/@oclif/plugin-autocomplete/lib/commands/autocomplete/create.js'
import Autocomplete from '../node_modules/@oclif/plugin-autocomplete/lib/commands/autocomplete/index.js'
import AutocompleteScript from '../node_modules/@oclif/plugin-autocomplete/lib/commands/autocomplete/script.js'
import Version from '../node_modules/@oclif/plugin-version/lib/commands/version.js'
import {ARG} from './flags.js'

export const PLUGIN_COMMANDS = {
  autocomplete: Autocomplete,
  'autocomplete:create': AutocompleteCreate,
  'autocomplete:script': AutocompleteScript,
  help: help.help,
  version: Version,
}

// Their arguments are not read from stdin either (ARG): the classes parse with their own
// static args, so the rule is set on those.
for (const command of Object.values(PLUGIN_COMMANDS))
  for (const arg of Object.values(command.args ?? {})) Object.assign(arg, ARG)
