import {sql} from 'drizzle-orm'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/client.js'
import {memories} from '../../src/db/schema.js'
import {rows} from '../../src/db/sql.js'
import {ConflictError, ValidationError} from '../../src/errors.js'
import {hashKey} from '../../src/services/keys.js'
import {createUser, listUsers} from '../../src/services/users.js'
import {testContext} from '../helpers/context.js'
import {createTestDatabase, DRIVERS, resetTables, type TestDatabase} from '../helpers/databases.js'
import {count, serverAuthenticates} from '../helpers/server-rule.js'

describe.each(DRIVERS)('users service on %s', (driver) => {
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

  describe('createUser', () => {
    it('writes user, key and default app the way the server does', async () => {
      const {ctx} = testContext('users create')
      const r = await createUser(
        database.db,
        {userId: 'charlie', name: 'Charlie Brown', email: 'charlie@example.com'},
        ctx,
      )
      expect(r.apiKey).toMatch(/^mem_lab_[a-z0-9]{32}$/)
      const [u] = await rows<Record<string, unknown>>(
        database.db,
        sql`select id::text, user_id, name, email, created_at::text, updated_at::text, last_active::text from users`,
      )
      expect(u).toEqual({
        id: r.id,
        user_id: 'charlie',
        name: 'Charlie Brown',
        email: 'charlie@example.com',
        created_at: '2026-06-01 12:00:00',
        updated_at: '2026-06-01 12:00:00',
        last_active: '2026-06-01 12:00:00',
      })
      const [k] = await rows<Record<string, unknown>>(
        database.db,
        sql`select user_id::text, key_hash, created_at::text, last_used, is_active from api_keys`,
      )
      expect(k).toEqual({
        user_id: r.id,
        key_hash: hashKey(r.apiKey),
        created_at: '2026-06-01 12:00:00',
        last_used: null,
        is_active: true,
      })
      expect(k.key_hash).toMatch(/^[0-9a-f]{64}$/)
      const [a] = await rows<Record<string, unknown>>(
        database.db,
        sql`select id::text, owner_id::text, name, is_active from apps`,
      )
      expect(a).toEqual({id: r.apps[0].id, owner_id: r.id, name: 'default', is_active: true})
      expect(await serverAuthenticates(database, r.apiKey)).toBe('charlie')
      expect(r.createdAt).toBe('2026-06-01T12:00:00.000Z')
    })

    it('defaults the name to the userId title-cased, as the server does', async () => {
      const r = await createUser(database.db, {userId: 'charlie_brown2x'}, testContext().ctx)
      expect(r.name).toBe('Charlie_Brown2X')
      expect(r.email).toBeNull()
    })

    it('honours --key-length and --app', async () => {
      const r = await createUser(
        database.db,
        {userId: 'dana', keyLength: 12, appName: 'claude'},
        testContext().ctx,
      )
      expect(r.apiKey).toMatch(/^mem_lab_[a-z0-9]{12}$/)
      expect(r.apps[0].name).toBe('claude')
    })

    it.each([
      ['userId', {userId: 'Charlie'}],
      ['userId too short', {userId: 'ab'}],
      ['name too long', {userId: 'erin', name: 'x'.repeat(51)}],
      ['blank name', {userId: 'erin', name: '   '}],
      ['email', {userId: 'erin', email: 'not-an-email'}],
      ['key length', {userId: 'erin', keyLength: 11}],
    ])('rejects an invalid %s and writes nothing', async (_what, input) => {
      await expect(createUser(database.db, input, testContext().ctx)).rejects.toBeInstanceOf(ValidationError)
      expect(await count(database, 'users')).toBe(0)
      expect(await count(database, 'api_keys')).toBe(0)
      expect(await count(database, 'openmemory_admin.audit_log')).toBe(0)
    })

    it('refuses an existing userId and an existing email in any case, writing nothing', async () => {
      await createUser(database.db, {userId: 'frank', email: 'Frank@Example.com'}, testContext().ctx)
      await expect(createUser(database.db, {userId: 'frank'}, testContext().ctx)).rejects.toBeInstanceOf(
        ConflictError,
      )
      await expect(
        createUser(database.db, {userId: 'frank2', email: 'frank@EXAMPLE.com'}, testContext().ctx),
      ).rejects.toBeInstanceOf(ConflictError)
      expect(await count(database, 'users')).toBe(1)
      expect(await count(database, 'api_keys')).toBe(1)
      expect(await count(database, 'apps')).toBe(1)
    })

    it('records an audit row without the plain key', async () => {
      const r = await createUser(database.db, {userId: 'gina'}, testContext('users create').ctx)
      const found = await rows<{
        command: string
        target_user_id: string
        outcome: string
        details: unknown
      }>(
        database.db,
        sql`select command, target_user_id, outcome, details::text as details from openmemory_admin.audit_log`,
      )
      expect(found).toHaveLength(1)
      expect(found[0]).toMatchObject({command: 'users create', target_user_id: 'gina', outcome: 'created'})
      expect(String(found[0].details)).not.toContain(r.apiKey)
      expect(String(found[0].details)).not.toContain(r.apiKey.slice(8))
    })

    it('lets exactly one of concurrent creates of the same userId succeed', async () => {
      // On PostgreSQL each attempt has its own connection (the embedded database is one process).
      const handles = driver === 'postgres' ? await Promise.all(Array.from({length: 5}, () => td.open())) : []
      const dbs =
        driver === 'postgres' ? handles.map((h) => h.db) : Array.from({length: 5}, () => database.db)
      const attempts = await Promise.allSettled(
        dbs.map((db) => createUser(db, {userId: 'henry'}, testContext().ctx)),
      )
      await Promise.all(handles.map((h) => h.close()))
      expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(1)
      for (const a of attempts) if (a.status === 'rejected') expect(a.reason).toBeInstanceOf(ConflictError)
      expect(await count(database, 'users')).toBe(1)
      expect(await count(database, 'api_keys')).toBe(1)
      expect(await count(database, 'apps')).toBe(1)
    })
  })

  describe('listUsers', () => {
    async function seed() {
      const t = testContext()
      t.clock.now = new Date('2026-01-01T00:00:00Z')
      const a = await createUser(database.db, {userId: 'alice'}, t.ctx)
      t.clock.now = new Date('2026-03-01T00:00:00Z')
      const b = await createUser(database.db, {userId: 'bob'}, t.ctx)
      t.clock.now = new Date('2026-05-01T00:00:00Z')
      await createUser(database.db, {userId: 'carol'}, t.ctx)
      // bob: 3 active memories, 1 deleted; alice: 1 active
      const mem = (userId: string, appId: string, state: 'active' | 'deleted') => ({
        id: crypto.randomUUID(),
        userId,
        appId,
        content: 'x',
        state,
      })
      await database.db
        .insert(memories)
        .values([
          mem(b.id, b.apps[0].id, 'active'),
          mem(b.id, b.apps[0].id, 'active'),
          mem(b.id, b.apps[0].id, 'active'),
          mem(b.id, b.apps[0].id, 'deleted'),
          mem(a.id, a.apps[0].id, 'active'),
        ])
      await database.db.execute(sql`update api_keys set is_active = false where user_id = ${a.id}`)
      await database.db.execute(sql`update users set last_active = null where id = ${a.id}`)
    }

    it('returns every user with key status, active memories and apps', async () => {
      await seed()
      const list = await listUsers(database.db, {}, testContext().ctx)
      expect(list.map((u) => [u.userId, u.keyStatus, u.activeMemoryCount, u.appNames])).toEqual([
        ['alice', 'revoked', 1, ['default']],
        ['bob', 'active', 3, ['default']],
        ['carol', 'active', 0, ['default']],
      ])
      expect(list[0].lastActiveAt).toBeNull()
      expect(list[1].createdAt).toBe('2026-03-01T00:00:00.000Z')
    })

    it('sorts and limits', async () => {
      await seed()
      const ids = async (input: Parameters<typeof listUsers>[1]) =>
        (await listUsers(database.db, input, testContext().ctx)).map((u) => u.userId)
      expect(await ids({sort: 'memories'})).toEqual(['bob', 'alice', 'carol'])
      expect(await ids({sort: 'created'})).toEqual(['carol', 'bob', 'alice'])
      expect(await ids({sort: 'last-active'})).toEqual(['carol', 'bob', 'alice'])
      expect(await ids({sort: 'created', limit: 2})).toEqual(['carol', 'bob'])
    })

    it('filters by inactivity, using created_at when the user was never active', async () => {
      await seed()
      const {ctx} = testContext('list', new Date('2026-06-01T00:00:00Z'))
      const ids = async (days: number) =>
        (await listUsers(database.db, {inactiveDays: days}, ctx)).map((u) => u.userId)
      // alice: never active, created 2026-01-01 (151 days); bob 92 days; carol 31 days
      expect(await ids(100)).toEqual(['alice'])
      expect(await ids(60)).toEqual(['alice', 'bob'])
      expect(await ids(31)).toEqual(['alice', 'bob'])
      expect(await ids(30)).toEqual(['alice', 'bob', 'carol'])
    })

    it('uses one query whatever the number of users', async () => {
      const t = testContext()
      for (let i = 0; i < 30; i++) await createUser(database.db, {userId: `user${i}`}, t.ctx)
      queries.length = 0
      const list = await listUsers(database.db, {sort: 'memories'}, t.ctx)
      expect(list.length).toBe(30)
      expect(queries).toHaveLength(1)
    })
  })
})
