/**
 * Input rules shared by flags, arguments and prompts (one message per rule).
 */
import {ValidationError} from '../errors.js'

export const USER_ID_PATTERN = /^[a-z][a-z0-9_]{2,19}$/
export const NAME_MAX = 50
export const EMAIL_MAX = 254
/** Upper bounds of numeric flags: beyond them PostgreSQL or Date arithmetic fails (exit 1 instead of 2). */
export const DAYS_MAX = 36_500
export const LIMIT_MAX = Number.MAX_SAFE_INTEGER

export const MESSAGES = {
  userId:
    'userId must be 3 to 20 characters: a lowercase letter first, then lowercase letters, digits or underscores (e.g. charlie_b).',
  name: `name must be 1 to ${NAME_MAX} characters after trimming, with no control characters.`,
  email: 'email must be a valid address such as charlie@example.com.',
} as const

// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
export const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/
// A lone UTF-16 surrogate is not text: PostgreSQL would store U+FFFD instead of what was typed.
export const LONE_SURROGATE = /\p{Cs}/u

/** A value quoted for a one-line error: escaped, and cut at 40 characters. */
export function show(value: string): string {
  // JSON.stringify escapes control characters but not U+2028/U+2029, which
  // terminals treat as line breaks: escape those too, so an error stays one line.
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value).replace(
    /[\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16)}`,
  )
}

/** `undefined` when valid, else the message (for prompts' `validate`). */
export function userIdProblem(value: string): string | undefined {
  return USER_ID_PATTERN.test(value) ? undefined : MESSAGES.userId
}

export function nameProblem(value: string): string | undefined {
  const trimmed = value.trim()
  const length = [...trimmed].length
  if (length < 1 || length > NAME_MAX || CONTROL.test(trimmed) || LONE_SURROGATE.test(trimmed))
    return MESSAGES.name
  return undefined
}

export function parseUserId(value: string): string {
  const problem = userIdProblem(value)
  if (problem) throw new ValidationError(`Invalid userId ${show(value)}: ${problem}`)
  return value
}

export function parseName(value: string): string {
  const problem = nameProblem(value)
  if (problem) throw new ValidationError(`Invalid name ${show(value)}: ${problem}`)
  return value.trim()
}

/** Python's str.title(), which the server applies to a userId to make a default display name. */
export function titleCase(value: string): string {
  let out = ''
  let prevCased = false
  for (const ch of value) {
    const isCased = ch.toLowerCase() !== ch.toUpperCase()
    out += isCased ? (prevCased ? ch.toLowerCase() : ch.toUpperCase()) : ch
    prevCased = isCased
  }
  return out
}
