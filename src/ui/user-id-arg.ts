import {Args} from '@oclif/core'
import {ARG} from '../flags.js'
import {parseUserRef} from '../services/validation.js'

/**
 * An argument naming an existing user by its exact stored string: any text
 * but empty, control characters or over-long (exit 2). Whether the user
 * exists is the service's question (exit 3, with close matches).
 */
export const existingUserArg = Args.custom<string>({
  ...ARG,
  description: 'The user, by login name (see openmemory users list).',
  parse: async (input) => parseUserRef(input),
})

/** The `<userId>` argument of the lifecycle commands (asked for on a terminal when missing). */
export const userIdArg = existingUserArg()
