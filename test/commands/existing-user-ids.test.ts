/**
 * Any user the server created can be named (issue 11, point 1). The server
 * creates users without validating their ids (api/app/auth.py
 * `create_user_with_api_key`, lines 76-129 at 541f4739); only its register
 * endpoint applies ^[a-z][a-z0-9_]{2,19}$ (api/app/routers/auth.py line 61 at
 * af5cf74e). So every command that names a user looks it up by the exact
 * stored string; the creation rule is for `users create` alone.
 */
import {sql} from 'drizzle-orm'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import AuditList from '../../src/commands/audit/list.js'
import KeysList from '../../src/commands/keys/list.js'
import KeysRevoke from '../../src/commands/keys/revoke.js'
import KeysRotate from '../../src/commands/keys/rotate.js'
import MemoriesCount from '../../src/commands/memories/count.js'
import PruneInactive from '../../src/commands/prune-inactive.js'
import UsersCreate from '../../src/commands/users/create.js'
import UsersDeactivate from '../../src/commands/users/deactivate.js'
import UsersDelete from '../../src/commands/users/delete.js'
import UsersReactivate from '../../src/commands/users/reactivate.js'
import UsersShow from '../../src/commands/users/show.js'
import UsersTest from '../../src/commands/users/test.js'
import type {Database} from '../../src/db/client.js'
import {rows} from '../../src/db/sql.js'
import {closeUserIds} from '../../src/services/user-lookup.js'
import {createTestDatabase, DRIVERS, resetTables, type TestDatabase} from '../helpers/databases.js'
import {runCommand} from '../helpers/run.js'
import {plantServerUser} from '../helpers/seed.js'
import {serverAuthenticates} from '../helpers/server-rule.js'

const ODD_IDS = ['Bob.Smith', 'john doe', 'UPPER', 'x1', 'bob-dash', 'élodie', 'a'.repeat(34)]

describe('existing users are named by their exact stored string', () => {
  let td: TestDatabase
  let url: string
  const withDb = async <T>(fn: (d: Database) => Promise<T>) => {
    const d = await td.open()
    try {
      return await fn(d)
    } finally {
      await d.close()
    }
  }
  const run = (cmd: Parameters<typeof runCommand>[0], argv: string[]) =>
    runCommand(cmd, [...argv, '--database-url', url])

  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    url = td.url!
    await withDb(async (d) => (await import('../../src/db/client.js')).runMigrations(d))
  })
  afterAll(async () => td?.drop())
  beforeEach(async () => withDb(resetTables))

  it.each(ODD_IDS)('manages %j from show to delete', async (userId) => {
    await withDb((d) => plantServerUser(d, userId))
    const show = await run(UsersShow, [userId, '--json'])
    expect(show.exitCode, show.stderr).toBe(0)
    expect(JSON.parse(show.stdout).userId).toBe(userId)
    expect((await run(MemoriesCount, [userId, '--json'])).exitCode).toBe(0)
    expect((await run(UsersDeactivate, [userId, '--yes'])).exitCode).toBe(0)
    expect((await run(UsersReactivate, [userId])).exitCode).toBe(0)
    const rotated = await run(KeysRotate, [userId, '--yes', '--json'])
    expect(rotated.exitCode, rotated.stderr).toBe(0)
    const key = JSON.parse(rotated.stdout).apiKey as string
    expect(await withDb((d) => serverAuthenticates(d, key))).toBe(userId)
    expect((await run(KeysRevoke, [userId, '--yes'])).exitCode).toBe(0)
    expect(await withDb((d) => serverAuthenticates(d, key))).toBeNull()
    const audit = await run(AuditList, ['--user', userId, '--json'])
    expect(audit.exitCode).toBe(0)
    expect(JSON.parse(audit.stdout).length).toBeGreaterThan(0)
    expect((await run(UsersDelete, [userId, '--yes'])).exitCode).toBe(0)
    const gone = await withDb((d) => rows<{n: number}>(d.db, sql`select count(*)::int as n from users`))
    expect(Number(gone[0].n)).toBe(0)
  })

  it('keys list shows a planted odd id', async () => {
    await withDb((d) => plantServerUser(d, 'john doe'))
    const r = await run(KeysList, ['--json'])
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toContain('john doe')
  })

  it('looks up the exact string: case differs means another user', async () => {
    await withDb((d) => plantServerUser(d, 'UPPER'))
    const r = await run(UsersShow, ['upper'])
    expect(r.exitCode).toBe(3)
    expect(r.stderr.trim()).toBe(
      "Error: User 'upper' not found. Did you mean 'UPPER'? Run 'openmemory users list' to see existing users.",
    )
  })

  it('names up to three close matches, closest first, under --json too', async () => {
    for (const id of ['Bob.Smith', 'bob.smith2', 'bob_smyth', 'zed'])
      await withDb((d) => plantServerUser(d, id))
    const r = await run(UsersShow, ['bob.smith', '--json'])
    expect(r.exitCode).toBe(3)
    const out = JSON.parse(r.stdout)
    expect(out.error.code).toBe('NOT_FOUND')
    expect(out.closeMatches).toEqual(['Bob.Smith', 'bob.smith2', 'bob_smyth'])
  })

  it('counts two swapped neighbours as one typo: users show alcie names alice', async () => {
    await withDb((d) => plantServerUser(d, 'alice'))
    const r = await run(UsersShow, ['alcie', '--json'])
    expect(r.exitCode).toBe(3)
    expect(JSON.parse(r.stdout).closeMatches).toEqual(['alice'])
  })

  it('names no match when nothing is close', async () => {
    await withDb((d) => plantServerUser(d, 'alice'))
    const r = await run(KeysRevoke, ['zzzzzzzz', '--yes'])
    expect(r.exitCode).toBe(3)
    expect(r.stderr).not.toContain('Did you mean')
  })

  it.each([
    ['empty', ''],
    ['a control character', 'bob\u0007'],
    ['a line break', 'bob\nsmith'],
    [
      'over 65,536 characters (pasted garbage; longer stored ids are named, see odd-ids.test.ts)',
      'a'.repeat(65_537),
    ],
  ])('exits 2 for %s, writing nothing', async (_what, userId) => {
    await withDb((d) => plantServerUser(d, 'bob'))
    for (const cmd of [UsersShow, UsersDeactivate, KeysRevoke]) {
      const r = await run(cmd, [userId, '--yes'])
      expect(r.exitCode, `${cmd.name} ${r.stderr}`).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
    }
    expect((await run(AuditList, ['--user', userId])).exitCode).toBe(2)
    expect((await run(PruneInactive, ['--exclude', userId, '--yes'])).exitCode).toBe(2)
    const audit = await withDb((d) =>
      rows<{n: number}>(d.db, sql`select count(*)::int as n from openmemory_admin.audit_log`),
    )
    expect(Number(audit[0].n)).toBe(0)
  })

  it('users test accepts an odd id (and reaches the key step)', async () => {
    await withDb((d) => plantServerUser(d, 'Bob.Smith', 'mem_lab_thekeyofbob'))
    const r = await runCommand(UsersTest, [
      'Bob.Smith',
      '--key',
      'mem_lab_wrong',
      '--json',
      '--database-url',
      url,
    ])
    expect(r.exitCode).toBe(1)
    expect(JSON.parse(r.stdout).failedStep).toBe('key')
  })

  it('users create still applies the server register rule', async () => {
    for (const id of ['Bob.Smith', 'john doe', 'UPPER', 'x1', 'bob-dash', 'élodie', 'a'.repeat(34)]) {
      const r = await run(UsersCreate, [id])
      expect(r.exitCode, id).toBe(2)
    }
  })

  it('prune-inactive --exclude protects an odd id, and an unknown one exits 3 before any change', async () => {
    for (const id of ['Admin.Ops', 'old_one']) {
      const uuid = await withDb((d) => plantServerUser(d, id))
      await withDb((d) =>
        d.db.execute(
          sql`update users set created_at = now() - interval '400 days', last_active = now() - interval '400 days' where id = ${uuid}`,
        ),
      )
    }
    const typo = await run(PruneInactive, ['--days', '30', '--exclude', 'admin.ops', '--yes'])
    expect(typo.exitCode).toBe(3)
    expect(typo.stderr).toContain("Did you mean 'Admin.Ops'?")
    const inactive = await withDb((d) =>
      rows<{n: number}>(d.db, sql`select count(*)::int as n from openmemory_admin.deactivations`),
    )
    expect(Number(inactive[0].n)).toBe(0)
    const r = await run(PruneInactive, ['--days', '30', '--exclude', 'Admin.Ops', '--yes', '--json'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout).userIds).toEqual(['old_one'])
  })
})

describe.each(DRIVERS)('closeUserIds (%s)', (driver) => {
  let td: TestDatabase
  let d: Database
  beforeAll(async () => {
    td = await createTestDatabase(driver, 'multiuser', {migrated: true})
    d = await td.open({migrate: true})
    for (const id of ['Bob.Smith', 'élodie', 'Élodie2', 'charlie', 'x1']) await plantServerUser(d, id)
  })
  afterAll(async () => {
    await d?.close()
    await td?.drop()
  })

  it('finds a case-only difference first, then near spellings', async () => {
    expect(await closeUserIds(d.db, 'bob.smith')).toEqual(['Bob.Smith'])
    expect(await closeUserIds(d.db, 'ÉLODIE')).toEqual(['élodie', 'Élodie2'])
    expect(await closeUserIds(d.db, 'charly')).toEqual(['charlie'])
    expect(await closeUserIds(d.db, 'x2')).toEqual(['x1'])
    expect(await closeUserIds(d.db, 'nothing_like_it')).toEqual([])
  })
})
