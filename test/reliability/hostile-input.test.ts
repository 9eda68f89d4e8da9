/**
 * Hostile input, property-based (fast-check): unicode, control characters,
 * NUL bytes, lone surrogates, SQL metacharacters, very long strings, leading
 * and trailing spaces. Each case is either accepted and stored exactly as
 * documented, or rejected with exit 2 and one line, with nothing written.
 *
 * The bulk runs the validation and service layer in process against one real
 * PostgreSQL database; a sample goes through the command classes to check
 * the exit code and the single stderr line.
 */
import {Parser} from '@oclif/core'
import fc from 'fast-check'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import AuditList from '../../src/commands/audit/list.js'
import PruneInactive from '../../src/commands/prune-inactive.js'
import UsersCreate from '../../src/commands/users/create.js'
import UsersList from '../../src/commands/users/list.js'
import type {Database} from '../../src/db/client.js'
import {rows} from '../../src/db/sql.js'
import {OpenMemoryError, ValidationError} from '../../src/errors.js'
import {parseSince} from '../../src/services/duration.js'
import {createUser} from '../../src/services/users.js'
import {testContext} from '../helpers/context.js'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {runCommand} from '../helpers/run.js'
import {HEAVY, seedFromEnv} from './harness.js'

const RUNS = Number(process.env.OPENMEMORY_FC_RUNS ?? (HEAVY ? 1000 : 200))
const SAMPLE = HEAVY ? 60 : 12
const SEED = seedFromEnv(424242)
const tried: Record<string, number> = {}

const META = [
  "'",
  '"',
  ';',
  '--',
  '/*',
  '*/',
  '\\',
  '%',
  '_',
  '$1',
  "' or '1'='1",
  "'); drop table users; --",
  '\u0000',
  '\n',
  '\r',
  '\t',
  ' ',
  '\u00a0',
  '\u2028',
  '\ufeff',
  '\u202e',
  '\u007f',
  '\u0085',
  '\ud800',
  '\udfff',
  '😀',
  'e\u0301',
  'İ',
  'ß',
  'Ａ',
  '@',
  '.',
  '-',
]
const piece = fc.oneof(
  fc.constantFrom(...META),
  fc.string({unit: 'binary', maxLength: 3}),
  fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/),
)
const pad = fc.constantFrom('', '', ' ', '  ', '\t', '\n', '\u00a0', '\u3000')

/** Hostile strings, some built around a valid-looking core. */
function hostile(validish: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    {weight: 4, arbitrary: fc.array(piece, {maxLength: 12}).map((a) => a.join(''))},
    {weight: 2, arbitrary: fc.string({unit: 'binary', maxLength: 60})},
    {weight: 1, arbitrary: fc.string({unit: 'grapheme', maxLength: 60})},
    {weight: 1, arbitrary: fc.string({minLength: 1000, maxLength: 20_000})},
    {weight: 3, arbitrary: fc.tuple(pad, validish, pad).map(([a, v, b]) => a + v + b)},
    {weight: 2, arbitrary: fc.tuple(validish, piece).map(([v, p]) => v + p)},
    {weight: 3, arbitrary: validish},
  )
}

const count = (name: string) => {
  tried[name] = (tried[name] ?? 0) + 1
}

function expectOneLineValidation(error: unknown) {
  expect(error).toBeInstanceOf(ValidationError)
  expect((error as OpenMemoryError).exitCode).toBe(2)
  expect((error as Error).message).not.toMatch(/[\n\r\u2028\u2029]/)
}

// Oracles, written from the documented rules (docs/contract.md §4, README), not from the code.
const USER_ID_OK = (s: string) =>
  s.length >= 3 && s.length <= 20 && /[a-z]/.test(s[0] ?? '') && [...s].every((c) => /^[a-z0-9_]$/.test(c))
// Control characters, line/paragraph separators, bidi controls and U+FFFD (README "Input rules").
// biome-ignore lint/suspicious/noControlCharactersInRegex: the rule is about them
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufffd]/
const LONE = /\p{Cs}/u
const NAME_OK = (s: string) => {
  const t = s.trim()
  return [...t].length >= 1 && [...t].length <= 50 && !CONTROL.test(t) && !LONE.test(t)
}

describe('hostile input', () => {
  let tdb: TestDatabase
  let database: Database
  let seq = 0
  const fresh = () => `hx${(seq++).toString(36).padStart(6, '0')}`
  const {ctx} = testContext('users create')
  const rowCounts = async () =>
    (
      await rows<{n: string}>(
        database.db,
        (
          await import('drizzle-orm')
        ).sql`select (select count(*) from users) + (select count(*) from api_keys)
          + (select count(*) from apps) + (select count(*) from openmemory_admin.audit_log) as n`,
      )
    )[0]?.n

  beforeAll(async () => {
    tdb = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    database = await tdb.open({migrate: true})
  })
  afterAll(async () => {
    console.log(`[reliability] hostile input: ${JSON.stringify({seed: SEED, runsPerInput: RUNS, tried})}`)
    await database?.close()
    await tdb?.drop()
  })

  const storedUser = async (userId: string) => {
    const {sql} = await import('drizzle-orm')
    return (
      await rows<{user_id: string; name: string; email: string | null}>(
        database.db,
        sql`select user_id, name, email from users where user_id = ${userId}`,
      )
    )[0]
  }

  /** Create, and check the documented outcome: stored exactly, or exit 2 with nothing written. */
  async function createAndCheck(
    input: {userId: string; name?: string; email?: string},
    accept: boolean | null,
  ) {
    const before = await rowCounts()
    let error: unknown
    try {
      await createUser(database.db, input, ctx)
    } catch (e) {
      error = e
    }
    if (error === undefined) {
      if (accept === false) throw new Error(`accepted but should be rejected: ${JSON.stringify(input)}`)
      return 'accepted'
    }
    expect(await rowCounts()).toBe(before)
    if (error instanceof OpenMemoryError && error.exitCode === 4) return 'conflict'
    if (accept === true) throw new Error(`rejected but valid: ${JSON.stringify(input)}: ${String(error)}`)
    expectOneLineValidation(error)
    return 'rejected'
  }

  it(`userId: ${RUNS} generated cases`, async () => {
    await fc.assert(
      fc.asyncProperty(hostile(fc.stringMatching(/^[a-z][a-z0-9_]{2,19}$/)), async (userId) => {
        count('userId')
        const outcome = await createAndCheck({userId}, USER_ID_OK(userId))
        if (outcome === 'accepted') expect((await storedUser(userId))?.user_id).toBe(userId)
      }),
      {numRuns: RUNS, seed: SEED},
    )
  })

  it(`name: ${RUNS} generated cases, stored trimmed`, async () => {
    await fc.assert(
      fc.asyncProperty(hostile(fc.string({minLength: 1, maxLength: 50})), async (name) => {
        count('name')
        const userId = fresh()
        const outcome = await createAndCheck({userId, name}, NAME_OK(name))
        if (outcome === 'accepted') expect((await storedUser(userId))?.name).toBe(name.trim())
      }),
      {numRuns: RUNS, seed: SEED},
    )
  })

  it(`email: ${RUNS} generated cases, stored trimmed, unique case-insensitively`, async () => {
    await fc.assert(
      fc.asyncProperty(hostile(fc.emailAddress()), async (email) => {
        count('email')
        const userId = fresh()
        const outcome = await createAndCheck({userId, email}, null)
        if (outcome === 'accepted') {
          const t = email.trim()
          expect((await storedUser(userId))?.email).toBe(t)
          expect(t.length).toBeLessThanOrEqual(254)
          expect(t).toMatch(/^[^\s@]+@[^\s@]+\.[^\s@]+$/)
          expect(CONTROL.test(t) || LONE.test(t)).toBe(false)
        }
      }),
      {numRuns: RUNS, seed: SEED},
    )
  })

  it(`--app: ${RUNS} generated cases`, async () => {
    await fc.assert(
      fc.asyncProperty(hostile(fc.string({minLength: 1, maxLength: 30})), async (appName) => {
        count('app')
        const t = appName.trim()
        const ok = [...t].length >= 1 && [...t].length <= 100 && !CONTROL.test(t) && !LONE.test(t)
        const userId = fresh()
        const outcome = await createAndCheck({userId, appName} as never, ok)
        if (outcome === 'accepted') {
          const {sql} = await import('drizzle-orm')
          const [app] = await rows<{name: string}>(
            database.db,
            sql`select a.name from apps a join users u on u.id = a.owner_id where u.user_id = ${userId}`,
          )
          expect(app?.name).toBe(t)
        }
      }),
      {numRuns: RUNS, seed: SEED},
    )
  })

  // Numeric flags, parsed by oclif exactly as the commands declare them.
  const numeric: {name: string; flags: Record<string, unknown>; flag: string; min: number; max: number}[] = [
    {name: 'users create --key-length', flags: UsersCreate.flags, flag: 'key-length', min: 12, max: 64},
    {name: 'users list --limit', flags: UsersList.flags, flag: 'limit', min: 1, max: Number.MAX_SAFE_INTEGER},
    {name: 'users list --inactive-days', flags: UsersList.flags, flag: 'inactive-days', min: 0, max: 36_500},
    {name: 'audit list --limit', flags: AuditList.flags, flag: 'limit', min: 1, max: Number.MAX_SAFE_INTEGER},
    {name: 'prune-inactive --days', flags: PruneInactive.flags, flag: 'days', min: 1, max: 36_500},
  ]
  const numberish = fc.oneof(
    fc.integer({min: -100, max: 100_000}).map(String),
    fc.bigInt({min: -(10n ** 25n), max: 10n ** 25n}).map(String),
    fc.double().map(String),
    fc.constantFrom(
      '1e3',
      '0x10',
      '12.0',
      '+12',
      ' 12',
      '12 ',
      '１２',
      '٣٢',
      'Infinity',
      'NaN',
      '',
      '-0',
      '00012',
    ),
  )
  for (const n of numeric) {
    it(`${n.name}: ${RUNS} generated cases`, async () => {
      await fc.assert(
        fc.asyncProperty(hostile(numberish), async (value) => {
          count(n.name)
          const ok = /^-?[0-9]+$/.test(value) && Number(value) >= n.min && Number(value) <= n.max
          let parsed: unknown
          let error: unknown
          try {
            const out = await Parser.parse([`--${n.flag}=${value}`], {
              flags: {[n.flag]: n.flags[n.flag]} as never,
            })
            parsed = (out.flags as Record<string, unknown>)[n.flag]
          } catch (e) {
            error = e
          }
          if (ok) expect(parsed).toBe(Number.parseInt(value, 10))
          else expect(error).toBeDefined()
        }),
        {numRuns: RUNS, seed: SEED},
      )
    })
  }

  it(`audit list --since (dates and durations): ${RUNS} generated cases`, async () => {
    const now = new Date('2026-06-01T12:00:00Z')
    const dateish = fc.oneof(
      fc
        .date({min: new Date('1900-01-01'), max: new Date('2200-01-01'), noInvalidDate: true})
        .map((d) => d.toISOString()),
      fc
        .date({min: new Date('1900-01-01'), max: new Date('2200-01-01'), noInvalidDate: true})
        .map((d) => d.toISOString().slice(0, 10)),
      fc
        .tuple(
          fc.integer({min: 1900, max: 2100}),
          fc.integer({min: 0, max: 13}),
          fc.integer({min: 0, max: 32}),
        )
        .map(([y, m, d]) => `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`),
      fc
        .tuple(fc.integer({min: 0, max: 999_999}), fc.constantFrom('d', 'h', 'm', 'w', 'y', 'D', ''))
        .map(([n, u]) => `${n}${u}`),
    )
    await fc.assert(
      fc.asyncProperty(hostile(dateish), async (value) => {
        count('--since')
        let d: Date | undefined
        let error: unknown
        try {
          d = parseSince(value, now)
        } catch (e) {
          error = e
        }
        const t = value.trim()
        const rel = /^([0-9]{1,5})([hdw])$/.exec(t)
        const calendar = /^([0-9]{1,5})([my])$/.exec(t)
        const dateOnly = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(t)
        if (rel) {
          const unit = {h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000}[rel[2] as 'h' | 'd' | 'w']
          expect(d?.getTime()).toBe(now.getTime() - Number(rel[1]) * unit)
        } else if (calendar) {
          // Calendar months back, the day clamped to the target month's length; too far back is exit 2.
          const months = Number(calendar[1]) * (calendar[2] === 'y' ? 12 : 1)
          const total = now.getUTCFullYear() * 12 + now.getUTCMonth() - months
          const [y, m] = [Math.floor(total / 12), total % 12]
          if (y < 1) expectOneLineValidation(error)
          else {
            const last = new Date(Date.UTC(2000, m + 1, 0))
            last.setUTCFullYear(y, m + 1, 0)
            expect(d?.getUTCFullYear()).toBe(y)
            expect(d?.getUTCMonth()).toBe(m)
            expect(d?.getUTCDate()).toBe(Math.min(now.getUTCDate(), last.getUTCDate()))
            expect(d?.toISOString().slice(10)).toBe(now.toISOString().slice(10))
          }
        } else if (dateOnly) {
          const [y, m, day] = [Number(dateOnly[1]), Number(dateOnly[2]), Number(dateOnly[3])]
          const valid = m >= 1 && m <= 12 && day >= 1 && day <= new Date(Date.UTC(y, m, 0)).getUTCDate()
          if (valid) expect(d?.toISOString().slice(0, 10)).toBe(t)
          else expectOneLineValidation(error)
        } else if (error) {
          expectOneLineValidation(error)
        } else {
          // Accepted date-times: a real calendar date, a valid time.
          expect(Number.isNaN(d?.getTime())).toBe(false)
          const [y, m, day] = t.slice(0, 10).split('-').map(Number) as [number, number, number]
          expect(day).toBeLessThanOrEqual(new Date(Date.UTC(y, m, 0)).getUTCDate())
        }
      }),
      {numRuns: RUNS, seed: SEED},
    )
  })

  // A sample through the command classes: exit 0, 2 or 4, and an error is one line, never a stack.
  it(`through the command classes: ${SAMPLE} hostile invocations per command`, async () => {
    const env = {OPENMEMORY_DATABASE_URL: tdb.url, DATABASE_URL: undefined, DEBUG: undefined}
    const samples = fc.sample(
      fc.tuple(
        hostile(fc.stringMatching(/^[a-z][a-z0-9_]{2,19}$/)),
        hostile(fc.string({maxLength: 50})),
        hostile(fc.emailAddress()),
        hostile(numberish),
      ),
      {numRuns: SAMPLE, seed: SEED},
    )
    for (const [userId, name, email, num] of samples) {
      const invocations: [{run(argv?: string[], opts?: string): Promise<unknown>}, string[]][] = [
        [UsersCreate, ['--', userId, name, email]],
        [UsersCreate, ['ok_user_x', `--key-length=${num}`]],
        [UsersList, [`--limit=${num}`, `--inactive-days=${num}`]],
        [AuditList, [`--since=${name}`, `--limit=${num}`]],
        [PruneInactive, [`--days=${num}`, '--dry-run']],
      ]
      for (const [cmd, argv] of invocations) {
        count('command classes')
        const before = await rowCounts()
        const r = await runCommand(cmd, argv, env)
        expect([0, 2, 4]).toContain(r.exitCode)
        if (r.exitCode !== 0) {
          expect(r.stderr.trim().split('\n')).toHaveLength(1)
          expect(r.stderr).not.toMatch(/^\s+at /m)
          expect(await rowCounts()).toBe(before)
        }
      }
      await database.db.execute(
        (await import('drizzle-orm'))
          .sql`delete from openmemory_admin.audit_log where target_user_id = 'ok_user_x'`,
      )
      await database.db.execute(
        (await import('drizzle-orm'))
          .sql`delete from apps where owner_id in (select id from users where user_id = 'ok_user_x')`,
      )
      await database.db.execute(
        (await import('drizzle-orm'))
          .sql`delete from api_keys where user_id in (select id from users where user_id = 'ok_user_x')`,
      )
      await database.db.execute(
        (await import('drizzle-orm')).sql`delete from users where user_id = 'ok_user_x'`,
      )
    }
  })
})
