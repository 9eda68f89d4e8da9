/**
 * The email rule (zod's address check), in one place. From zod/mini, imported
 * by name: the full build's `z` brought every locale, 700 KB that every
 * command compiled at start-up.
 */
import {email} from 'zod/mini'
import {ValidationError} from '../errors.js'
import {CONTROL, EMAIL_MAX, LONE_SURROGATE, MESSAGES, show} from './validation.js'

const emailSchema = email()

/** `undefined` when valid, else the message (for prompts' `validate`). */
export function emailProblem(value: string): string | undefined {
  const trimmed = value.trim()
  if (
    trimmed.length > EMAIL_MAX ||
    CONTROL.test(trimmed) ||
    LONE_SURROGATE.test(trimmed) ||
    !emailSchema.safeParse(trimmed).success
  ) {
    return MESSAGES.email
  }
  return undefined
}

export function parseEmail(value: string): string {
  const problem = emailProblem(value)
  if (problem) throw new ValidationError(`Invalid email ${show(value)}: ${problem}`)
  return value.trim()
}
