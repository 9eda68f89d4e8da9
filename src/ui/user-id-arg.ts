import {Args} from '@oclif/core'

/** The `<userId>` argument of the lifecycle commands (asked for on a terminal when missing). */
export const userIdArg = Args.string({description: 'The user, by login name (see openmemory users list).'})
