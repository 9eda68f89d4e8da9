/**
 * Flags that parse themselves: a command gets a typed value (milliseconds, a
 * cut-off Date, a sort key of its union type), never a string to check and
 * cast. Durations follow the one grammar of src/services/duration.ts.
 *
 * A value a flag refuses is a FlagValueError (a ValidationError: exit 2, one
 * line); the base command recognises it by class.
 */
import {Flags} from '@oclif/core'
import {FlagValueError, OpenMemoryError} from './errors.js'
import {parseOlderThan, parseSince, parseWait} from './services/duration.js'
import {PRUNE_MODES} from './services/prune.js'
import {USER_SORTS} from './services/users.js'
import {show} from './services/validation.js'
import {LIST_FORMATS} from './ui/user-export.js'

/**
 * Spread into every argument: an argument is never read from stdin. oclif
 * otherwise fills a missing argument with whatever stdin holds (after waiting
 * up to 10 ms for it), so in `while read u; do openmemory users create "$u";
 * done < list` the first create took the rest of the list as its display name.
 * Commands that read stdin (keys verify, users import -) do it themselves.
 */
export const ARG = {ignoreStdin: true} as const

/** `fn`'s value; a domain error it throws becomes a FlagValueError with the same line. */
function refusing<T>(fn: () => T): T {
  try {
    return fn()
  } catch (error) {
    if (error instanceof OpenMemoryError) throw new FlagValueError(error.message, error.suggestions)
    throw error
  }
}

/**
 * A wait in milliseconds (`--lock-timeout 10s`): ms, s, min or h (a bare
 * number is seconds), more than 0 and at most `max` (default 24h). `2m` is
 * refused: m means months. A value read from the flag's `env` variable is
 * named by the variable in errors; a blank one counts as unset.
 */
export const waitFlag = Flags.custom<number, {max?: number}>({
  helpValue: '<duration>',
  async parse(input, ctx, opts) {
    const fromEnv = !ctx.token && opts.env !== undefined
    if (fromEnv && input.trim() === '') return undefined
    return refusing(() => parseWait(input, fromEnv ? String(opts.env) : `--${opts.name}`, opts.max))
  },
})

/** An age typed on the command line and the instant it points back to. */
export interface AgeCutoff {
  /** As typed: `90d`. */
  age: string
  cutoff: Date
}

/** An age (`--older-than 90d`): 12h, 7d, 2w, 3m (calendar months), 1y; the cut-off is that long before now. */
export const ageFlag = Flags.custom<AgeCutoff>({
  helpValue: '<age>',
  async parse(input, _ctx, opts) {
    return refusing(() => ({age: input.trim(), cutoff: parseOlderThan(input, new Date(), `--${opts.name}`)}))
  },
})

/** A date (`2026-11-01`), a UTC time, or an age before now (`7d`): the instant it names. */
export const sinceFlag = Flags.custom<Date>({
  helpValue: '<date|age>',
  async parse(input, _ctx, opts) {
    return refusing(() => parseSince(input, new Date(), `--${opts.name}`))
  },
})

/**
 * A whole number within `min`..`max`, as oclif's integer flag reads it
 * (`-?[0-9]+`), refused in one line naming the flag and the range.
 */
export const integerFlag = Flags.custom<number, {min?: number; max?: number}>({
  async parse(input, _ctx, opts) {
    const n = /^-?[0-9]+$/.test(input) ? Number.parseInt(input, 10) : Number.NaN
    const {min, max} = opts
    if (Number.isNaN(n) || (min !== undefined && n < min) || (max !== undefined && n > max)) {
      const range =
        min !== undefined && max !== undefined && max < Number.MAX_SAFE_INTEGER
          ? ` from ${min} to ${max}`
          : min !== undefined
            ? ` of at least ${min}`
            : max !== undefined
              ? ` of at most ${max}`
              : ''
      throw new FlagValueError(`Invalid --${opts.name} ${show(input)}: use a whole number${range}.`)
    }
    return n
  },
})

/** `users list --sort`: user-id (the default), created, last-active, memories. */
export const userSortFlag = Flags.option({options: USER_SORTS, default: 'user-id'})

/** `users list --format`: table (the default), csv, ui-profile. */
export const listFormatFlag = Flags.option({options: LIST_FORMATS, default: 'table'})

/** `prune-inactive --mode`: deactivate (the default) or delete. */
export const pruneModeFlag = Flags.option({options: PRUNE_MODES, default: 'deactivate'})
