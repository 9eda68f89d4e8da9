/**
 * Input rules shared by flags, arguments and prompts (one message per rule).
 */
import {ValidationError} from '../errors.js'

/** The server's register rule (app/routers/auth.py `validate_username`): applies to new userIds only. */
export const USER_ID_PATTERN = /^[a-z][a-z0-9_]{2,19}$/
/**
 * The longest existing userId the tool will look up. The server creates users
 * without validating their ids (`users.user_id` is an unbounded varchar), so an
 * existing id is any text of any length; this bound (far above what the
 * server's register rule or anyone's import makes) only stops pasted garbage.
 */
export const USER_REF_MAX = 65_536
export const NAME_MAX = 50
export const EMAIL_MAX = 254
export const APP_NAME_MAX = 100
export const REASON_MAX = 200
/** Upper bounds of numeric flags: beyond them PostgreSQL or Date arithmetic fails (exit 1 instead of 2). */
export const DAYS_MAX = 36_500
export const LIMIT_MAX = Number.MAX_SAFE_INTEGER

export const MESSAGES = {
  userRef: `a userId names an existing user by its exact stored string (or the escaped spelling listings show): 1 to ${USER_REF_MAX} characters, no control characters.`,
  userId:
    'a new userId must be 3 to 20 characters: a lowercase letter first, then lowercase letters, digits or underscores (e.g. charlie_b).',
  name: `name must be 1 to ${NAME_MAX} characters after trimming, with no control characters, bidi controls or U+FFFD.`,
  email: 'email must be a valid address such as charlie@example.com.',
  app: `--app must be 1 to ${APP_NAME_MAX} characters after trimming, with no control characters, bidi controls or U+FFFD.`,
  reason: `--reason must be at most ${REASON_MAX} characters, with no control characters, bidi controls or U+FFFD.`,
} as const

/**
 * What typed text may not hold: C0 and C1 control characters, line and
 * paragraph separators, bidi controls (which reorder what a terminal shows:
 * U+061C, U+200E/F, U+202A-E, U+2066-9) and U+FFFD, the replacement character
 * that stands where argv held invalid UTF-8. Data already stored with them is
 * still shown (sanitised) and managed; only new input is refused.
 */
const C0_C1 = '\\u0000-\\u001f\\u007f-\\u009f'
export const CONTROL = new RegExp(
  `[${C0_C1}\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufffd]`,
)
/**
 * Control characters alone: what an existing userId may not hold when it is
 * named. Bidi controls and U+FFFD stay allowed there, so a user the server
 * stored with them can still be managed (they are shown escaped).
 */
export const CONTROL_ONLY = new RegExp(`[${C0_C1}\\u2028\\u2029]`)
// A lone UTF-16 surrogate is not text: PostgreSQL would store U+FFFD instead of what was typed.
export const LONE_SURROGATE = /\p{Cs}/u

/** A value quoted for a one-line error: escaped, and cut at 40 characters. */
export function show(value: string): string {
  // JSON.stringify escapes C0 control characters but not DEL, C1, bidi controls or
  // U+2028/U+2029 (line breaks to a terminal): escape those too, so an error stays one
  // inert line.
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value).replace(
    /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

/** `undefined` when valid, else the message (for prompts' `validate`). The creation rule. */
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

/** The creation rule: for `users create` and nothing else. */
export function parseUserId(value: string): string {
  const problem = userIdProblem(value)
  if (problem) throw new ValidationError(`Invalid userId ${show(value)}: ${problem}`)
  return value
}

/**
 * How an existing user is named: by the exact stored string, whatever it is
 * (`Bob.Smith`, `john doe`, `élodie`…). Only the empty string, control
 * characters, lone surrogates and over-long input are refused (exit 2); an id
 * that is well formed but absent is a not-found (exit 3), never a usage error.
 */
export function userRefProblem(value: string): string | undefined {
  if (
    value === '' ||
    [...value].length > USER_REF_MAX ||
    CONTROL_ONLY.test(value) ||
    LONE_SURROGATE.test(value)
  )
    return MESSAGES.userRef
  return undefined
}

export function parseUserRef(value: string): string {
  const problem = userRefProblem(value)
  if (problem) throw new ValidationError(`Invalid userId ${show(value)}: ${problem}`)
  return value
}

export function parseName(value: string): string {
  const problem = nameProblem(value)
  if (problem) throw new ValidationError(`Invalid name ${show(value)}: ${problem}`)
  return value.trim()
}

export function appNameProblem(value: string): string | undefined {
  const trimmed = value.trim()
  const length = [...trimmed].length
  if (length < 1 || length > APP_NAME_MAX || CONTROL.test(trimmed) || LONE_SURROGATE.test(trimmed))
    return MESSAGES.app
  return undefined
}

/** The app name of a new user (`--app`), trimmed. */
export function parseAppName(value: string): string {
  const problem = appNameProblem(value)
  if (problem) throw new ValidationError(`Invalid --app ${show(value)}: ${problem}`)
  return value.trim()
}

/** A deactivation's `--reason`: kept as typed, at most REASON_MAX characters of plain text. */
export function parseReason(value: string): string {
  if ([...value].length > REASON_MAX || CONTROL.test(value) || LONE_SURROGATE.test(value))
    throw new ValidationError(`Invalid --reason ${show(value)}: ${MESSAGES.reason}`)
  return value
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

/** Days of inactivity (`prune-inactive --days`, the menu): a whole number from 1 to DAYS_MAX. */
export function daysProblem(value: string): string | undefined {
  const t = value.trim()
  return /^[0-9]{1,6}$/.test(t) && Number(t) >= 1 && Number(t) <= DAYS_MAX
    ? undefined
    : `days must be a whole number from 1 to ${DAYS_MAX}.`
}

export function parseDays(value: number | string): number {
  const problem = daysProblem(String(value))
  if (problem) throw new ValidationError(`Invalid --days ${show(String(value))}: ${problem}`)
  return Number(String(value).trim())
}
