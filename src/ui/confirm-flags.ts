import {Flags} from '@oclif/core'

/** `--yes` / `--dry-run` of the commands that change or take away access. */
export const confirmFlags = {
  yes: Flags.boolean({char: 'y', summary: 'Go ahead without asking (required without a terminal).'}),
  'dry-run': Flags.boolean({summary: 'Show what would change; change nothing.'}),
}
