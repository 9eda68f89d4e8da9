/**
 * Secrets never reach debug output. oclif's `debug` (DEBUG=*) prints the
 * command line several times, so bin/run.js hands oclif a copy in which the
 * value of --key and the password of any URL (--database-url, ...) are
 * replaced by placeholders; the real values stay in this module and the base
 * command puts them back into the parsed flags (`revealSecret`).
 */
import {maskUrl} from './db/url.js'

const SECRET_FLAGS = new Set(['--key'])
/** A URL with a password: in its user part (`user:pass@`) or as a `password=` query parameter. */
const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#]*:[^/?#]*@|[^?#]*\?(?:[^#]*&)?password=)/i
const secrets = new Map<string, string>()

function placeholder(value: string): string {
  const masked = URL_WITH_PASSWORD.test(value) ? maskUrl(value) : '***'
  // Unique even when two values mask alike.
  let name = masked
  for (let i = 2; secrets.has(name) && secrets.get(name) !== value; i++) name = `${masked}#${i}`
  secrets.set(name, value)
  return name
}

/** The command line with secrets replaced by placeholders (what oclif sees and may print). */
export function protectArgv(argv: string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--') {
      out.push(...argv.slice(i))
      break
    }
    const eq = arg.indexOf('=')
    if (arg.startsWith('--') && eq > 0) {
      const name = arg.slice(0, eq)
      const value = arg.slice(eq + 1)
      out.push(
        SECRET_FLAGS.has(name) || URL_WITH_PASSWORD.test(value) ? `${name}=${placeholder(value)}` : arg,
      )
    } else if (SECRET_FLAGS.has(arg) && i + 1 < argv.length) {
      out.push(arg, placeholder(argv[++i] as string))
    } else out.push(URL_WITH_PASSWORD.test(arg) ? placeholder(arg) : arg)
  }
  return out
}

/** The real value behind a placeholder (anything else is returned as is). */
export function revealSecret<T>(value: T): T {
  return typeof value === 'string' && secrets.has(value) ? (secrets.get(value) as T) : value
}
