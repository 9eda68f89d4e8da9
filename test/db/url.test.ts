/**
 * Database URLs: the password is masked whatever it holds (parseable URL or
 * not), and a malformed URL is refused with one line that never quotes it.
 */
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {maskUrl, resolveTarget} from '../../src/db/client.js'
import {databaseUrlProblem} from '../../src/db/url.js'
import {ValidationError} from '../../src/errors.js'

/** Passwords built from the characters that break naive masks, plus letters so they are recognisable. */
const password = fc
  .array(fc.constantFrom('/', '@', ':', '%', '+', ' ', '?', '#', '=', '&', 'a', 'Z', '9', '~'), {
    minLength: 1,
    maxLength: 24,
  })
  .map((chars) => `Pw${chars.join('')}`)

const hostTail = fc.constantFrom(
  'db.example.com:5432/om',
  '127.0.0.1/om',
  '[::1]:6543/om?sslmode=require',
  'h1:5432,h2:5433/om',
  'db.example.com',
)

describe('maskUrl', () => {
  it('masks the password and keeps the rest', () => {
    expect(maskUrl('postgres://admin:s3cret@db.example.com:5432/om')).toBe(
      'postgres://admin:***@db.example.com:5432/om',
    )
    expect(maskUrl('postgresql://u@h/db?password=x')).toBe('postgresql://u@h/db?password=***')
    expect(maskUrl('postgres://u@h/db')).toBe('postgres://u@h/db')
  })

  it('masks a raw password holding / @ : % + and spaces exactly (unparseable URLs included)', () => {
    fc.assert(
      fc.property(password, hostTail, fc.constantFrom('postgres', 'postgresql'), (pw, tail, scheme) => {
        expect(maskUrl(`${scheme}://user:${pw}@${tail}`)).toBe(`${scheme}://user:***@${tail}`)
      }),
      {numRuns: 2000},
    )
  })

  it('masks a percent-encoded password exactly', () => {
    fc.assert(
      fc.property(password, hostTail, (pw, tail) => {
        expect(maskUrl(`postgres://user:${encodeURIComponent(pw)}@${tail}`)).toBe(
          `postgres://user:***@${tail}`,
        )
      }),
      {numRuns: 1000},
    )
  })

  it('masks a password given as a query parameter', () => {
    fc.assert(
      fc.property(password, (pw) => {
        const masked = maskUrl(`postgres://user@h/om?sslmode=require&password=${encodeURIComponent(pw)}`)
        expect(masked).toBe('postgres://user@h/om?sslmode=require&password=***')
      }),
    )
  })

  it('masks a URL without a scheme too', () => {
    expect(maskUrl('user:p/w@host/db')).toBe('user:***@host/db')
  })
})

describe('malformed database URLs', () => {
  const base = {defaultDataDir: '/home/op/.local/share/openmemory'}
  const refused = (url: string) => {
    try {
      resolveTarget({...base, env: {DATABASE_URL: url}})
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError)
      return (error as ValidationError).message
    }
    throw new Error(`accepted ${url}`)
  }

  it.each([
    ['postgres://u:pw@h:99999/db', /port is not a number from 1 to 65535/],
    ['postgres://u:pw@h:0/db', /port is not a number from 1 to 65535/],
    ['postgres://u:pw@[::1/db', /IPv6|host/],
    ['postgres://u:pw@[::1:5432/db', /IPv6|host/],
    ['postgres://u:p%ZZw@h/db', /invalid percent-encoding/],
    ['postgres://u:pw@h/d%ZZb', /invalid percent-encoding/],
    ['postgres://u:p/w@h/db', /must be percent-encoded/],
    ['postgres://u:p@w@h/db', /must be percent-encoded/],
    ['postgres://u:p?w@h/db', /percent-encode/],
    ['postgres://u:p w@h/db', /spaces or control characters/],
  ])('%s is refused with one line naming the problem, password masked', (url, why) => {
    const message = refused(url)
    expect(message).toMatch(why)
    expect(message).toMatch(/^The database URL from DATABASE_URL is malformed: /)
    expect(message).not.toContain('\n')
    expect(message).toContain('u:***@')
  })

  it('accepts well-formed URLs: encoded passwords, IPv6, host lists, query parameters', () => {
    for (const url of [
      'postgres://u:p%2Fw%40x%3A%25%2B%20@db.example.com:5432/om',
      'postgresql://u@[::1]:5432/om?sslmode=require',
      'postgres://u:pw@h1:5432,h2:5433/om',
      'postgres://u@h/om?options=-c%20search_path%3Dx&application_name=a@b',
      'postgres://h/om',
    ]) {
      expect(databaseUrlProblem(url), url).toBeUndefined()
    }
  })

  it('never quotes the password, whether the URL is refused or (read another way) accepted', () => {
    fc.assert(
      fc.property(password, fc.constantFrom('99999', '5432'), (pw, port) => {
        const url = `postgres://user:${pw}@db.example.com:${port}/om`
        let shown: string
        try {
          shown = resolveTarget({...base, env: {DATABASE_URL: url}}).display
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError)
          shown = (error as ValidationError).message
        }
        expect(shown).not.toContain(pw)
        expect(shown).toContain('user:***@')
      }),
      {numRuns: 3000},
    )
  })

  it('refuses every URL with port 99999 whose password holds no "?" (the rest of the URL is then a query)', () => {
    fc.assert(
      fc.property(
        password.filter((pw) => !pw.includes('?')),
        (pw) => {
          const message = refused(`postgres://user:${pw}@db.example.com:99999/om`)
          expect(message).not.toContain(pw)
        },
      ),
      {numRuns: 2000},
    )
  })
})
