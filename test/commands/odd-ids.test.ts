/**
 * Ids as the server stores them (it validates none): a control character, a
 * literal backslash, 300 characters. Every one can be named: by its exact
 * stored string first, otherwise by the escaped spelling human output shows
 * (one escape/unescape pair, ui/sanitize.ts), so `--exclude` protects it; JSON
 * keeps the exact id.
 */
import fc from 'fast-check'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {sanitize, unescapeShown} from '../../src/ui/sanitize.js'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {runBin} from '../helpers/run.js'
import {plantServerUser} from '../helpers/seed.js'

const BEL_ID = 'bad\u0007id'
const LITERAL = 'back\\x07slash' // a real backslash, then x07
const LITERAL_TWIN = 'back\u0007slash' // what that spelling would mean escaped
const LONG_ID = `lo${'n'.repeat(296)}ng`

it('unescapeShown undoes sanitize for any text without a backslash', () => {
  fc.assert(
    fc.property(fc.string({unit: 'binary', maxLength: 60}), (s) => {
      fc.pre(!s.includes('\\'))
      expect(unescapeShown(sanitize(s))).toBe(s)
    }),
  )
})

describe('odd ids the server stored', () => {
  let td: TestDatabase
  let env: Record<string, string | undefined>
  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    const d = await td.open()
    try {
      for (const id of [BEL_ID, LITERAL, LITERAL_TWIN, LONG_ID, 'plain']) await plantServerUser(d, id)
      await d.db.execute(
        (await import('drizzle-orm'))
          .sql`update users set created_at = now() - interval '400 days', last_active = null`,
      )
    } finally {
      await d.close()
    }
    env = {OPENMEMORY_DATABASE_URL: td.url, DATABASE_URL: undefined}
  })
  afterAll(async () => td?.drop())

  const show = async (ref: string) => {
    const r = await runBin(['users', 'show', ref, '--json'], {env})
    return {code: r.exitCode, userId: r.exitCode === 0 ? JSON.parse(r.stdout).userId : undefined}
  }

  it('names a control-character id by the spelling the listing shows; JSON keeps it exact', async () => {
    const listed = await runBin(['users', 'list'], {env})
    const shown = listed.stdout.split('\n').map((l) => l.split('\t')[0])
    expect(shown).toContain('bad\\x07id')
    expect(await show('bad\\x07id')).toEqual({code: 0, userId: BEL_ID})
  })

  it('an exact stored match wins over the escaped reading', async () => {
    expect(await show(LITERAL)).toEqual({code: 0, userId: LITERAL})
  })

  it('an escaped NUL names no one (exit 3), never a database error', async () => {
    expect((await show('bad\\x00id')).code).toBe(3)
  })

  it('names a 300-character id', async () => {
    expect(await show(LONG_ID)).toEqual({code: 0, userId: LONG_ID})
  })

  it('--exclude protects an id named by its shown spelling', async () => {
    const r = await runBin(
      ['prune-inactive', '--days', '30', '--dry-run', '--json', '--exclude', 'bad\\x07id'],
      {
        env,
      },
    )
    expect(r.exitCode, r.stderr).toBe(0)
    const ids = JSON.parse(r.stdout).userIds as string[]
    expect(ids).not.toContain(BEL_ID)
    expect(ids).toContain('plain')
    expect(ids).toContain(LONG_ID)
  })
  it('a NUL byte (or any byte the database cannot store) in an import cell exits 2 naming its line', async () => {
    const csv =
      'userId,name,email,apps\nnul_name,Bad\u0000Name,,\nnul_mail,Ok,a\u0000b@example.com,\nnul_app,Ok,,x\u0000y\nnul\u0000id,Ok,,\n'
    const r = await runBin(['users', 'import', '-', '--dry-run'], {env, input: csv})
    expect(r.exitCode).toBe(2)
    for (const line of [2, 3, 4, 5]) expect(r.stderr).toContain(`line ${line}: a cell holds a NUL byte`)
    expect(r.stderr).not.toMatch(/SQLSTATE|22P05/)
  })
})
