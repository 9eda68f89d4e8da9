import {sql} from 'drizzle-orm'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/client.js'
import {rows} from '../../src/db/sql.js'
import {UserNotFoundError} from '../../src/errors.js'
import {listAudit} from '../../src/services/audit.js'
import {checkKey} from '../../src/services/auth.js'
import {listKeys, revokeKey, rotateKey} from '../../src/services/key-lifecycle.js'
import {deactivateUser, deleteUser, reactivateUser, showUser} from '../../src/services/lifecycle.js'
import {countMemories} from '../../src/services/memories.js'
import {createUser} from '../../src/services/users.js'
import {testContext} from '../helpers/context.js'
import {createTestDatabase, DRIVERS, resetTables, type TestDatabase} from '../helpers/databases.js'
import {addApp, seedMemories} from '../helpers/seed.js'
import {count, serverAuthenticates} from '../helpers/server-rule.js'

describe.each(DRIVERS)('user and key lifecycle on %s', (driver) => {
  let td: TestDatabase
  let database: Database
  const queries: string[] = []
  beforeAll(async () => {
    td = await createTestDatabase(driver, 'multiuser', {migrated: true})
    database = await td.open({migrate: true, onQuery: (q) => queries.push(q)})
  })
  afterAll(async () => {
    await database?.close()
    await td?.drop()
  })
  beforeEach(async () => resetTables(database))
  const ctx = (command = 'test') => testContext(command).ctx
  const make = (userId: string) => createUser(database.db, {userId}, ctx('users create'))

  describe('show', () => {
    it('shows key fingerprint, apps and memory counts by state', async () => {
      const u = await make('alice')
      const other = await addApp(database, u.id, 'cursor', false)
      await seedMemories(database, u.id, u.apps[0].id, ['active', 'active', 'archived'])
      await seedMemories(database, u.id, other, ['deleted'])
      const s = await showUser(database.db, 'alice')
      expect(s.key).toEqual({
        keyStatus: 'active',
        keyFingerprint: u.keyFingerprint,
        createdAt: u.createdAt,
        lastUsedAt: null,
      })
      expect(s.apps.map((a) => [a.name, a.enabled, a.byState, a.memoryCount])).toEqual([
        ['cursor', false, {active: 0, archived: 0, deleted: 1}, 1],
        ['default', true, {active: 2, archived: 1, deleted: 0}, 3],
      ])
      expect(s.byState).toEqual({active: 2, archived: 1, deleted: 1})
      expect(s.memoryCount).toBe(4)
      expect(JSON.stringify(s)).not.toContain(u.apiKey)
    })
    it('throws not found for an unknown user', async () => {
      await expect(showUser(database.db, 'nobody')).rejects.toBeInstanceOf(UserNotFoundError)
    })
  })

  describe('deactivate and reactivate', () => {
    it('cuts off access, then restores exactly what it switched off', async () => {
      const u = await make('bob')
      const off = await addApp(database, u.id, 'old_app', false)
      await addApp(database, u.id, 'cursor', true)
      const d = await deactivateUser(database.db, 'bob', {reason: 'left'}, ctx('users deactivate'))
      expect(d).toMatchObject({changed: true, keyDeactivated: true, appsDeactivated: ['cursor', 'default']})
      expect(await serverAuthenticates(database, u.apiKey)).toBeNull()
      const active = await rows<{n: number}>(
        database.db,
        sql`select count(*)::int as n from apps where is_active`,
      )
      expect(active[0].n).toBe(0)

      const again = await deactivateUser(database.db, 'bob', {}, ctx())
      expect(again.changed).toBe(false)

      const r = await reactivateUser(database.db, 'bob', ctx('users reactivate'))
      expect(r).toEqual({
        userId: 'bob',
        changed: true,
        keyReactivated: true,
        appsReactivated: ['cursor', 'default'],
      })
      expect(await serverAuthenticates(database, u.apiKey)).toBe('bob')
      const [oldApp] = await rows<{is_active: boolean}>(
        database.db,
        sql`select is_active from apps where id = ${off}`,
      )
      expect(oldApp.is_active).toBe(false)
      expect((await reactivateUser(database.db, 'bob', ctx())).changed).toBe(false)
    })

    it('does not turn back on a key that was revoked before deactivation', async () => {
      const u = await make('carol')
      await revokeKey(database.db, 'carol', ctx())
      await deactivateUser(database.db, 'carol', {}, ctx())
      await reactivateUser(database.db, 'carol', ctx())
      expect(await serverAuthenticates(database, u.apiKey)).toBeNull()
    })

    it('keeps a key revoked during deactivation revoked after reactivation', async () => {
      const u = await make('cora')
      await deactivateUser(database.db, 'cora', {}, ctx())
      const r = await revokeKey(database.db, 'cora', ctx())
      expect(r.changed).toBe(true)
      await reactivateUser(database.db, 'cora', ctx())
      expect(await serverAuthenticates(database, u.apiKey)).toBeNull()
      expect((await revokeKey(database.db, 'cora', ctx())).changed).toBe(false)
    })

    it('writes nothing in a dry run', async () => {
      const u = await make('dave')
      const d = await deactivateUser(database.db, 'dave', {dryRun: true}, ctx())
      expect(d).toMatchObject({changed: true, dryRun: true, keyDeactivated: true})
      expect(await serverAuthenticates(database, u.apiKey)).toBe('dave')
      expect(await count(database, 'openmemory_admin.deactivations')).toBe(0)
    })

    it('audits each change with the OS user, host and command', async () => {
      await make('erin')
      await deactivateUser(database.db, 'erin', {reason: 'test'}, ctx('users deactivate'))
      const rows = await listAudit(database.db, {userId: 'erin'})
      expect(rows.map((r) => [r.command, r.outcome, r.osUser, r.host])).toEqual([
        ['users deactivate', 'changed', 'tester', 'testhost'],
        ['users create', 'created', 'tester', 'testhost'],
      ])
      expect(rows[0].details).toMatchObject({reason: 'test', keyDeactivated: true})
    })
  })

  describe('delete', () => {
    it('removes the user and everything referencing them, leaving others alone', async () => {
      const a = await make('frank')
      const b = await make('gina')
      await seedMemories(database, a.id, a.apps[0].id, ['active', 'deleted'])
      await seedMemories(database, b.id, b.apps[0].id, ['active'])
      await deactivateUser(database.db, 'frank', {}, ctx())
      const dry = await deleteUser(database.db, 'frank', {dryRun: true}, ctx())
      expect(dry.rowsByTable).toEqual({
        memory_categories: 2,
        memories: 2,
        apps: 1,
        api_keys: 1,
        'openmemory_admin.deactivations': 1,
        users: 1,
      })
      expect(await count(database, 'users')).toBe(2)
      const r = await deleteUser(database.db, 'frank', {}, ctx('users delete'))
      expect(r.rowsByTable).toEqual(dry.rowsByTable)
      expect(await count(database, 'users')).toBe(1)
      expect(await count(database, 'memories')).toBe(1)
      expect(await count(database, 'memory_categories')).toBe(1)
      expect(await serverAuthenticates(database, b.apiKey)).toBe('gina')
      expect((await listAudit(database.db, {userId: 'frank'}))[0]).toMatchObject({outcome: 'deleted'})
    })
    it('throws not found and writes nothing for an unknown user', async () => {
      await make('henry')
      await expect(deleteUser(database.db, 'nobody', {}, ctx())).rejects.toBeInstanceOf(UserNotFoundError)
      expect(await count(database, 'users')).toBe(1)
    })
  })

  describe('keys', () => {
    it('rotates atomically: the old key stops working, the new one works', async () => {
      const u = await make('ivan')
      await database.db.execute(sql`update api_keys set last_used = now()`)
      const t = testContext('keys rotate', new Date('2026-07-01T00:00:00Z'))
      const r = await rotateKey(database.db, 'ivan', {keyLength: 40}, t.ctx)
      expect(r.apiKey).toMatch(/^mem_lab_[a-z0-9]{40}$/)
      expect(r.previousKeyFingerprint).toBe(u.keyFingerprint)
      expect(await serverAuthenticates(database, u.apiKey)).toBeNull()
      expect(await serverAuthenticates(database, r.apiKey)).toBe('ivan')
      const [k] = await rows<{created_at: string; last_used: string | null}>(
        database.db,
        sql`select created_at::text, last_used::text from api_keys`,
      )
      expect(k).toEqual({created_at: '2026-07-01 00:00:00', last_used: null})
      expect(await count(database, 'api_keys')).toBe(1)
    })

    it('gives a user without a key row one', async () => {
      const u = await make('judy')
      await database.db.execute(sql`delete from api_keys where user_id = ${u.id}`)
      const r = await rotateKey(database.db, 'judy', {}, ctx())
      expect(r.keyRowCreated).toBe(true)
      expect(await serverAuthenticates(database, r.apiKey)).toBe('judy')
    })

    it("keeps a deactivated user's new key inactive until reactivation", async () => {
      await make('kate')
      await deactivateUser(database.db, 'kate', {}, ctx())
      const r = await rotateKey(database.db, 'kate', {}, ctx())
      expect(r.keyStatus).toBe('revoked')
      expect(await serverAuthenticates(database, r.apiKey)).toBeNull()
      await reactivateUser(database.db, 'kate', ctx())
      expect(await serverAuthenticates(database, r.apiKey)).toBe('kate')
    })

    it('revokes idempotently and lists keys by fingerprint', async () => {
      const u = await make('liam')
      expect((await revokeKey(database.db, 'liam', ctx())).changed).toBe(true)
      expect((await revokeKey(database.db, 'liam', ctx())).changed).toBe(false)
      const keys = await listKeys(database.db)
      expect(keys).toEqual([
        {
          userId: 'liam',
          keyFingerprint: u.keyFingerprint,
          keyStatus: 'revoked',
          deactivated: false,
          createdAt: u.createdAt,
          lastUsedAt: null,
        },
      ])
    })

    it('verifies by the server rule without touching last_used', async () => {
      const u = await make('mona')
      expect(await checkKey(database.db, u.apiKey)).toMatchObject({valid: true, userId: 'mona'})
      expect(await checkKey(database.db, 'mem_lab_doesnotexist00')).toMatchObject({
        valid: false,
        reason: 'unknown',
      })
      await revokeKey(database.db, 'mona', ctx())
      expect(await checkKey(database.db, u.apiKey)).toMatchObject({
        valid: false,
        reason: 'revoked',
        userId: 'mona',
      })
      const [k] = await rows<{last_used: string | null}>(database.db, sql`select last_used from api_keys`)
      expect(k.last_used).toBeNull()
    })
  })

  describe('memories count', () => {
    it('counts per user and per app by state with totals, in one query', async () => {
      const a = await make('nina')
      const b = await make('omar')
      await make('pete')
      const extra = await addApp(database, a.id, 'cursor')
      await seedMemories(database, a.id, a.apps[0].id, ['active', 'archived'])
      await seedMemories(database, a.id, extra, ['deleted'])
      await seedMemories(database, b.id, b.apps[0].id, ['active', 'active'])
      queries.length = 0
      const r = await countMemories(database.db)
      expect(queries.filter((q) => /from users/i.test(q))).toHaveLength(1)
      expect(r.rows.map((x) => [x.userId, x.byState, x.memoryCount])).toEqual([
        ['nina', {active: 1, archived: 1, deleted: 1}, 3],
        ['omar', {active: 2, archived: 0, deleted: 0}, 2],
        ['pete', {active: 0, archived: 0, deleted: 0}, 0],
      ])
      expect(r.totals).toEqual({byState: {active: 3, archived: 1, deleted: 1}, memoryCount: 5})
      const byApp = await countMemories(database.db, {userId: 'nina', byApp: true})
      expect(byApp.rows.map((x) => [x.appName, x.memoryCount])).toEqual([
        ['cursor', 1],
        ['default', 2],
      ])
      await expect(countMemories(database.db, {userId: 'nobody'})).rejects.toBeInstanceOf(UserNotFoundError)
    })
  })
})

describe.each(DRIVERS)('lifecycle on an upstream database (%s)', (driver) => {
  let td: TestDatabase
  let database: Database
  beforeAll(async () => {
    td = await createTestDatabase(driver, 'upstream', {migrated: true})
    database = await td.open({migrate: true})
  })
  afterAll(async () => {
    await database?.close()
    await td?.drop()
  })

  it('counts paused memories and deletes access logs and status history too', async () => {
    const {ctx} = testContext()
    const u = await createUser(database.db, {userId: 'quinn', email: 'q@example.com'}, ctx)
    const [m1, m2] = await seedMemories(database, u.id, u.apps[0].id, ['paused', 'active'])
    await database.db.execute(sql`
      insert into memory_access_logs (id, memory_id, app_id, accessed_at, access_type)
      values (gen_random_uuid(), ${m1}, ${u.apps[0].id}, now(), 'search')`)
    await database.db.execute(sql`
      insert into memory_status_history (id, memory_id, changed_by, old_state, new_state, changed_at)
      values (gen_random_uuid(), ${m2}, ${u.id}, 'active', 'paused', now())`)
    const c = await countMemories(database.db, {userId: 'quinn'})
    expect(c.states).toEqual(['active', 'paused', 'archived', 'deleted'])
    expect(c.rows[0].byState).toEqual({active: 1, paused: 1, archived: 0, deleted: 0})
    const r = await deleteUser(database.db, 'quinn', {}, ctx)
    expect(r.rowsByTable).toMatchObject({
      memory_access_logs: 1,
      memory_status_history: 1,
      memories: 2,
      users: 1,
    })
    expect(await count(database, 'users')).toBe(0)
  })
})
