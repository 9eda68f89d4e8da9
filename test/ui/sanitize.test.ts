/**
 * The output sanitiser (src/ui/sanitize.ts), property-based: whatever a
 * string from data holds, no ESC (U+001B), no CSI (U+009B), no other control
 * character and no bidi control reaches what the renderers write, with
 * colour on or off, on a terminal or in a pipe; JSON stays exact.
 */
import fc from 'fast-check'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import type {KeysRotateResult} from '../../src/services/key-lifecycle.js'
import type {DeactivateResult, DeleteResult, UsersShowResult} from '../../src/services/lifecycle.js'
import type {MemoriesCountResult} from '../../src/services/memories.js'
import type {UserListItem} from '../../src/services/users.js'
import {displayWidth, fitToStream, formatError, renderTable, tsvRow} from '../../src/ui/format.js'
import {
  AUDIT_COLUMNS,
  creationMessage,
  deactivationMessage,
  deactivationQuestion,
  deletionQuestion,
  KEY_COLUMNS,
  memoryCountTable,
  otherOwnersTable,
  reactivationMessage,
  revocationMessage,
  rotationMessage,
  USER_COLUMNS,
  userDetails,
  userTable,
} from '../../src/ui/render.js'
import {jsonText, sanitize, terminalSafe, unescapeShown} from '../../src/ui/sanitize.js'

const RUNS = Number(process.env.OPENMEMORY_FC_RUNS ?? 300)

/** Every code point the sanitiser must never let through raw. */
const FORBIDDEN =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: they are what is tested
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\p{Default_Ignorable_Code_Point}]/u
/** The colour codes the tool itself writes when colour is on. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: they are what is tested
const OWN_SGR = /\u001b\[(?:0|1|2|22|3[0-7]|39|9[0-7])m/g

const ATTACKS = [
  '\u001b]8;;http://evil.example/\u0007click\u001b]8;;\u0007', // OSC 8 hyperlink
  '\u001b]0;pwned\u0007', // title change
  '\u001b[2J\u001b[H', // clear screen
  '\u001b[1A\u001b[2K', // cursor up, erase line
  '\u009b31m', // C1 CSI
  '\u001b[31m', // a colour code from data
  '\u202eevil\u202c',
  '\u2066\u2067\u2068\u2069',
  '\u200e\u200f\u061c',
  // Invisible: zero-width space, joiners, word joiner, BOM, soft hyphen, Hangul fillers,
  // variation selectors, tag characters.
  'alice\u200b',
  '\u200c\u200d\u2060\ufeff\u00ad',
  '\u115f\u1160\u3164\uffa0',
  '\ufe00\ufe0f\u{e0100}',
  '\u{e0001}\u{e0061}\u{e007f}',
  '\n',
  '\r',
  '\t',
  '\u2028\u2029',
  '\u0085',
  '\u0000',
  '\u007f',
  '=HYPERLINK("http://evil/?"&A1,"click")',
]

/** Hostile strings: attacks, any code unit, and mixes of both with plain text. */
const hostile = fc.oneof(
  fc.constantFrom(...ATTACKS),
  fc.string({unit: 'binary', maxLength: 40}),
  fc
    .array(fc.oneof(fc.constantFrom(...ATTACKS), fc.string({maxLength: 6})), {maxLength: 8})
    .map((a) => a.join('')),
)

function expectClean(out: string, color: boolean) {
  const rest = color ? out.replace(OWN_SGR, '') : out
  expect(rest).not.toMatch(FORBIDDEN)
  expect(rest).not.toContain('\u001b')
  expect(rest).not.toContain('\u009b')
}

function user(v: string): UserListItem {
  return {
    id: '00000000-0000-4000-8000-000000000001',
    userId: v,
    name: v,
    email: v,
    keyStatus: 'active',
    deactivated: false,
    activeMemoryCount: 1,
    appNames: [v, 'default'],
    createdAt: '2026-01-01T00:00:00.000Z',
    lastActiveAt: null,
  } as unknown as UserListItem
}

/** Every renderer that shows data, over one hostile value. */
function renderAll(v: string, stream: NodeJS.WriteStream): string[] {
  const deactivation = {
    userId: v,
    changed: true,
    dryRun: false,
    keyDeactivated: true,
    appsDeactivated: [v],
    deactivationReason: v,
  } as DeactivateResult
  const show = {
    id: '00000000-0000-4000-8000-000000000001',
    userId: v,
    name: v,
    email: v,
    createdAt: null,
    lastActiveAt: null,
    deactivated: true,
    deactivatedAt: '2026-01-01T00:00:00.000Z',
    deactivationReason: v,
    key: null,
    apps: [{name: v, enabled: true, byState: {active: 1}, memoryCount: 1}],
    byState: {active: 1},
    memoryCount: 1,
  } as unknown as UsersShowResult
  const counts = {
    byApp: true,
    states: ['active'],
    rows: [{userId: v, appName: v, byState: {active: 1}, memoryCount: 1}],
    totals: {byState: {active: 1}, memoryCount: 1},
  } as unknown as MemoriesCountResult
  const deletion = {
    userId: v,
    dryRun: true,
    rowsByTable: {users: 1},
    rowCount: 2,
    otherOwners: [{userId: v, appOwner: v, memoryCount: 1}],
  } as DeleteResult
  return [
    renderTable([user(v)], [{header: 'X', value: (u) => u.userId}], stream),
    userTable([user(v)]),
    tsvRow(USER_COLUMNS, user(v)),
    renderTable(
      [
        {
          userId: v,
          keyFingerprint: 'ab12cd34',
          keyStatus: 'active',
          deactivated: true,
          createdAt: null,
          lastUsedAt: null,
        },
      ],
      KEY_COLUMNS as never,
      stream,
    ),
    renderTable(
      [
        {
          id: 1,
          recordedAt: '2026-01-01T00:00:00.000Z',
          osUser: v,
          host: v,
          command: v,
          userId: v,
          outcome: v,
          details: {v},
        },
      ],
      AUDIT_COLUMNS as never,
      stream,
    ),
    userDetails(show),
    deactivationMessage(deactivation),
    deactivationMessage({...deactivation, dryRun: true}),
    deactivationQuestion(deactivation),
    reactivationMessage({userId: v, changed: true, keyReactivated: true, appsReactivated: [v]}),
    revocationMessage({
      userId: v,
      keyStatus: 'active',
      changed: true,
      dryRun: false,
      keyFingerprint: 'ab12cd34',
    } as never),
    rotationMessage({userId: v, previousKeyFingerprint: 'ab12cd34', keyStatus: 'revoked'} as Pick<
      KeysRotateResult,
      'userId' | 'previousKeyFingerprint' | 'keyStatus'
    >).line,
    rotationMessage({userId: v, previousKeyFingerprint: null, keyStatus: 'revoked'} as never).warning ?? '',
    memoryCountTable(counts),
    otherOwnersTable(deletion),
    deletionQuestion(deletion),
    creationMessage({userId: v, name: v, email: v, apps: [{id: 'x', name: v}]}),
    formatError(`User '${v}' not found.`),
  ]
}

describe('output sanitiser', () => {
  const saved = {
    NO_COLOR: process.env.NO_COLOR,
    FORCE_COLOR: process.env.FORCE_COLOR,
    COLUMNS: process.env.COLUMNS,
  }
  const tty = process.stdout.isTTY
  const errTty = process.stderr.isTTY
  beforeEach(() => {
    delete process.env.NO_COLOR
    delete process.env.FORCE_COLOR
  })
  afterEach(() => {
    Object.assign(process.env, saved)
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]
    process.stdout.isTTY = tty
    process.stderr.isTTY = errTty
  })

  it('shows the documented escapes', () => {
    expect(sanitize('a\u001b[2Jb')).toBe('a\\x1b[2Jb')
    expect(sanitize('\u202eevil')).toBe('\\u202eevil')
    expect(sanitize('a\nb\tc\rd')).toBe('a\\nb\\tc\\rd')
    expect(sanitize('\u009b1m\u2028')).toBe('\\x9b1m\\u2028')
    expect(sanitize('plain ñame 😀')).toBe('plain ñame 😀')
    // Invisible characters are shown: alice and alice + U+200B never look alike.
    expect(sanitize('alice\u200b')).toBe('alice\\u200b')
    expect(sanitize('\ufeff\u3164\u00ad')).toBe('\\ufeff\\u3164\\xad')
    // Beyond U+FFFF (a tag character): its two halves, which type back to it (unescapeShown).
    expect(sanitize('a\u{e0041}')).toBe('a\\udb40\\udc41')
    expect(unescapeShown(sanitize('a\u{e0041}\u200b'))).toBe('a\u{e0041}\u200b')
    expect(terminalSafe('line one\nline\ttwo \u001b[1A')).toBe('line one\nline\ttwo \\x1b[1A')
    // The tool's own colour stays when colour is on; any other sequence does not.
    expect(terminalSafe('\u001b[31mError:\u001b[39m \u001b]0;x\u0007', {color: true})).toBe(
      '\u001b[31mError:\u001b[39m \\x1b]0;x\\x07',
    )
  })

  it(`sanitize and terminalSafe never let a control or bidi character through (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(hostile, (v) => {
        expectClean(sanitize(v), false)
        expect(sanitize(v)).not.toContain('\n')
        expectClean(terminalSafe(v), false)
        expectClean(terminalSafe(v, {color: true}), true)
        // Sanitised text is left alone by a second pass (no double escaping).
        expect(terminalSafe(sanitize(v), {color: true})).toBe(sanitize(v))
      }),
      {numRuns: RUNS},
    )
  })

  for (const mode of [
    {name: 'a pipe, no colour', isTTY: false, color: false},
    {name: 'a terminal, colour on', isTTY: true, color: true},
    {name: 'a terminal, NO_COLOR', isTTY: true, color: false},
  ]) {
    it(`every renderer is clean on ${mode.name} (${RUNS} cases)`, () => {
      process.stdout.isTTY = mode.isTTY
      process.stderr.isTTY = mode.isTTY
      if (!mode.color) process.env.NO_COLOR = '1'
      // Wide enough that nothing wraps: the line breaks counted are the data's (fitting to 80 is below).
      process.env.COLUMNS = '100000'
      const stream = {isTTY: mode.isTTY} as NodeJS.WriteStream
      fc.assert(
        fc.property(hostile, (v) => {
          const plain = renderAll('x', stream)
          for (const [i, out] of renderAll(v, stream).entries()) {
            expectClean(out, mode.color)
            // A value never adds a line: every line break is the renderer's own.
            expect(out.split('\n').length).toBe(plain[i]?.split('\n').length)
          }
        }),
        {numRuns: RUNS},
      )
    })
  }

  it(`every renderer, as written to an 80-column terminal, has no line wider than 80 (${RUNS} cases)`, () => {
    process.stdout.isTTY = true
    process.stderr.isTTY = true
    process.env.COLUMNS = '80'
    const stream = {isTTY: true} as NodeJS.WriteStream
    fc.assert(
      fc.property(hostile, fc.integer({min: 0, max: 120}), (v, repeat) => {
        for (const out of renderAll(v.repeat(Math.max(1, repeat % 7)), stream)) {
          const written = fitToStream(out, stream)
          expectClean(written, true)
          for (const line of written.split('\n')) expect(displayWidth(line), written).toBeLessThanOrEqual(80)
        }
      }),
      {numRuns: RUNS},
    )
  })

  it(`JSON output is exact and writes none of them raw (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(fc.array(hostile, {maxLength: 4}), (values) => {
        const doc = {values, nested: {v: values.join('')}}
        const text = jsonText(doc)
        expect(JSON.parse(text)).toEqual(doc)
        expectClean(text.replace(/\n/g, ''), false)
      }),
      {numRuns: RUNS},
    )
  })
})
