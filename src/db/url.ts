/**
 * Database URLs: masking the password for display, and checking a URL before
 * the driver sees it. Pure string work, no driver import.
 *
 * Masking never depends on the URL being well formed: a password can hold
 * `/ @ : % + ?` and spaces, unencoded, and must still be hidden. The userinfo
 * of `scheme://userinfo@host` is taken to end at the LAST `@` (a host never
 * contains one), so whatever follows the first `:` up to there is the secret.
 * When in doubt, more is hidden, never less.
 */
import {ValidationError} from '../errors.js'

const MASK = '***'
const PASSWORD_PARAM = /([?&](?:ssl)?password=)[^&#]*/gi

/** Replace the password of a URL (parseable or not) with `***`. */
export function maskUrl(url: string): string {
  const scheme = url.indexOf('://')
  const start = scheme >= 0 ? scheme + 3 : 0
  const rest = url.slice(start)
  const at = rest.lastIndexOf('@')
  let masked = url
  if (at >= 0) {
    const userinfo = rest.slice(0, at)
    const colon = userinfo.indexOf(':')
    if (colon >= 0) {
      masked = `${url.slice(0, start)}${userinfo.slice(0, colon)}:${MASK}${rest.slice(at)}`
    }
  }
  return masked.replace(PASSWORD_PARAM, `$1${MASK}`)
}

/** What is wrong with a database URL, in words that never quote its parts; undefined when it is fine. */
export function databaseUrlProblem(url: string): string | undefined {
  if (/\s|\p{Cc}/u.test(url.trim())) {
    return 'it contains spaces or control characters (percent-encode them, e.g. a space as %20)'
  }
  if (url.includes('#')) {
    return 'it holds a # (in a password, percent-encode it as %23)'
  }
  const start = url.indexOf('://') + 3
  // The host list, as postgres.js reads it: after the userinfo, up to the path or query.
  const hostPart = url.slice(start).split(/[?/#]/)[0] ?? ''
  const hostList = hostPart.slice(hostPart.lastIndexOf('@') + 1)
  // An "@" after the host part but before any query: the password holds "/" (or "?", "#").
  const after = url.slice(start + hostPart.length)
  const strayAt = after.lastIndexOf('@')
  if (strayAt >= 0 && !/[?#]/.test(after.slice(0, strayAt))) {
    return 'the user name or password holds a character that must be percent-encoded (/ as %2F, @ as %40, ? as %3F, # as %23)'
  }
  if (
    hostPart
      .slice(0, hostPart.lastIndexOf('@') + 1)
      .slice(0, -1)
      .includes('@')
  ) {
    return 'the user name or password holds a character that must be percent-encoded (/ as %2F, @ as %40, ? as %3F, # as %23)'
  }
  for (const host of hostList.split(',')) {
    const m = /^(\[[^\]]*\]|(?:[\w.~-]|%[0-9a-f]{2})*)(?::(.*))?$/i.exec(host)
    if (!m) return 'the host is not valid (an IPv6 address goes in brackets, e.g. [::1]:5432)'
    if (m[1].startsWith('[') && !/^\[[0-9a-f:.]+(%[\w.]+)?\]$/i.test(m[1])) {
      return 'the host is not a valid IPv6 address in brackets'
    }
    if (m[2] !== undefined) {
      if (!/^\d{1,5}$/.test(m[2]) || Number(m[2]) < 1 || Number(m[2]) > 65535) {
        return /^\d+$/.test(m[2])
          ? 'the port is not a number from 1 to 65535'
          : 'the port is not a number from 1 to 65535 (if the password holds / ? # or @, percent-encode them: %2F %3F %23 %40)'
      }
    }
  }
  let parsed: URL
  try {
    parsed = new URL(url.replace(hostList, hostList.split(',')[0] ?? ''))
  } catch {
    return 'it is not a valid URL'
  }
  for (const [part, value] of [
    ['user name', parsed.username],
    ['password', parsed.password],
    ['database name', parsed.pathname],
  ] as const) {
    try {
      decodeURIComponent(value)
    } catch {
      return `the ${part} has an invalid percent-encoding (a % must be followed by two hex digits; write % itself as %25)`
    }
  }
  for (const [name, value] of parsed.searchParams) {
    if (/\p{Cc}/u.test(name + value)) return 'a query parameter holds a control character'
  }
  return undefined
}

/** Throw a one-line ValidationError (exit 2) when the URL is malformed. */
export function assertDatabaseUrl(url: string, source: string): void {
  const problem = databaseUrlProblem(url)
  if (problem) {
    throw new ValidationError(
      `The database URL from ${source} is malformed: ${problem} (got ${maskUrl(url)}).`,
    )
  }
}
