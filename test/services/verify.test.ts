import {randomUUID} from 'node:crypto'
import {sql} from 'drizzle-orm'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/client.js'
import {rows} from '../../src/db/sql.js'
import {hashKey} from '../../src/services/keys.js'
import {createUser, type UsersCreateResult} from '../../src/services/users.js'
import {CHECKS, SAMPLE_SIZE, verifyDatabase} from '../../src/services/verify.js'
import {testContext} from '../helpers/context.js'
import {createTestDatabase, DRIVERS, resetTables, type TestDatabase} from '../helpers/databases.js'

type Seeded = {alice: UsersCreateResult; bob: UsersCreateResult; database: Database}

async function insertMemory(
  database: Database,
  m: {userId: string; appId: string; state?: string | null; deletedAt?: boolean; archivedAt?: boolean},
): Promise<string> {
  const id = randomUUID()
  const state = m.state === undefined ? 'active' : m.state
  await database.db.execute(sql`
    insert into memories (id, user_id, app_id, content, state, created_at, updated_at, archived_at, deleted_at)
    values (${id}, ${m.userId}, ${m.appId}, 'remember this',
            ${state}::memorystate, now(), now(),
            ${m.archivedAt ? sql`now()` : sql`null`}, ${m.deletedAt ? sql`now()` : sql`null`})`)
  return id
}

/** What the server itself writes in normal use (see the comments in src/services/verify.ts). */
const NOTICES = [
  'users-without-key',
  'users-without-default-app',
  'half-deactivated-apps-off',
  'memories-deleted-without-deleted-at',
  'memories-archived-without-archived-at',
]

/** Each defect, alone: what it does to a clean database and what verify must report. */
const DEFECTS: {
  check: string
  seed: (s: Seeded) => Promise<string[]>
}[] = [
  {
    check: 'memories-app-of-other-user',
    seed: async ({database, alice, bob}) => [
      await insertMemory(database, {userId: alice.id, appId: bob.apps[0].id}),
    ],
  },
  {
    check: 'memories-missing-user',
    seed: async ({database, alice}) => {
      await database.db.execute(sql`alter table memories drop constraint if exists memories_user_id_fkey`)
      return [await insertMemory(database, {userId: randomUUID(), appId: alice.apps[0].id})]
    },
  },
  {
    check: 'memories-missing-app',
    seed: async ({database, alice}) => {
      await database.db.execute(sql`alter table memories drop constraint if exists memories_app_id_fkey`)
      return [await insertMemory(database, {userId: alice.id, appId: randomUUID()})]
    },
  },
  {
    check: 'apps-missing-owner',
    seed: async ({database}) => {
      await database.db.execute(sql`alter table apps drop constraint if exists apps_owner_id_fkey`)
      const id = randomUUID()
      await database.db.execute(sql`
        insert into apps (id, owner_id, name, is_active, created_at, updated_at)
        values (${id}, ${randomUUID()}, 'default', true, now(), now())`)
      return [id]
    },
  },
  {
    check: 'keys-missing-user',
    seed: async ({database}) => {
      await database.db.execute(sql`alter table api_keys drop constraint if exists api_keys_user_id_fkey`)
      const id = randomUUID()
      await database.db.execute(sql`
        insert into api_keys (id, user_id, key_hash, created_at, is_active)
        values (${id}, ${randomUUID()}, ${hashKey('mem_lab_orphanorphanorphan000000000')}, now(), true)`)
      return [id]
    },
  },
  {
    check: 'category-links-missing-memory',
    seed: async ({database}) => {
      await database.db.execute(
        sql`alter table memory_categories drop constraint if exists memory_categories_memory_id_fkey`,
      )
      const category = randomUUID()
      const memory = randomUUID()
      await database.db.execute(
        sql`insert into categories (id, name, created_at) values (${category}, 'orphaned', now())`,
      )
      await database.db.execute(
        sql`insert into memory_categories (memory_id, category_id) values (${memory}, ${category})`,
      )
      return [memory]
    },
  },
  {
    check: 'users-without-key',
    seed: async ({database, alice}) => {
      await database.db.execute(sql`delete from api_keys where user_id = ${alice.id}`)
      return ['alice']
    },
  },
  {
    check: 'users-without-default-app',
    seed: async ({database, alice}) => {
      await database.db.execute(sql`update apps set name = 'claude' where id = ${alice.apps[0].id}`)
      return ['alice']
    },
  },
  {
    check: 'duplicate-key-hashes',
    seed: async ({database, alice, bob}) => {
      await database.db.execute(sql`drop index if exists ix_api_keys_key_hash`)
      await database.db.execute(sql`
        update api_keys set key_hash = (select key_hash from api_keys where user_id = ${alice.id})
        where user_id = ${bob.id}`)
      return [`${hashKey(alice.apiKey).slice(0, 8)} (alice bob)`]
    },
  },
  {
    check: 'half-deactivated-key-off',
    seed: async ({database, alice}) => {
      await database.db.execute(sql`update api_keys set is_active = false where user_id = ${alice.id}`)
      return ['alice']
    },
  },
  {
    check: 'half-deactivated-apps-off',
    seed: async ({database, bob}) => {
      await database.db.execute(sql`update apps set is_active = false where owner_id = ${bob.id}`)
      return ['bob']
    },
  },
  {
    check: 'memories-deleted-without-deleted-at',
    seed: async ({database, alice}) => [
      await insertMemory(database, {userId: alice.id, appId: alice.apps[0].id, state: 'deleted'}),
    ],
  },
  {
    check: 'memories-archived-without-archived-at',
    seed: async ({database, alice}) => [
      await insertMemory(database, {userId: alice.id, appId: alice.apps[0].id, state: 'archived'}),
    ],
  },
  {
    check: 'memories-without-state',
    seed: async ({database, alice}) => [
      await insertMemory(database, {userId: alice.id, appId: alice.apps[0].id, state: null}),
    ],
  },
]

describe.each(DRIVERS)('verifyDatabase on %s', (driver) => {
  let td: TestDatabase
  let database: Database
  const queries: string[] = []
  let seeded: Seeded

  beforeAll(async () => {
    td = await createTestDatabase(driver, 'multiuser', {migrated: true})
    database = await td.open({migrate: true, onQuery: (q) => queries.push(q)})
  })
  afterAll(async () => {
    await database?.close()
    await td?.drop()
  })
  /** A clean database with every legitimate state: memories in each state with their timestamps, a deliberate deactivation. */
  beforeEach(async () => {
    await resetTables(database)
    const {ctx} = testContext()
    const alice = await createUser(database.db, {userId: 'alice'}, ctx)
    const bob = await createUser(database.db, {userId: 'bob'}, ctx)
    const carol = await createUser(database.db, {userId: 'carol'}, ctx)
    seeded = {alice, bob, database}
    await insertMemory(database, {userId: alice.id, appId: alice.apps[0].id})
    await insertMemory(database, {userId: bob.id, appId: bob.apps[0].id, state: 'deleted', deletedAt: true})
    await insertMemory(database, {userId: bob.id, appId: bob.apps[0].id, state: 'archived', archivedAt: true})
    // Restored from the archive: archived_at stays set, as the server leaves it.
    await insertMemory(database, {userId: bob.id, appId: bob.apps[0].id, state: 'active', archivedAt: true})
    // carol was deactivated deliberately (recorded), key and apps off.
    await database.db.execute(sql`update api_keys set is_active = false where user_id = ${carol.id}`)
    await database.db.execute(sql`update apps set is_active = false where owner_id = ${carol.id}`)
    await database.db.execute(sql`
      insert into openmemory_admin.deactivations (user_uuid, deactivated_at, reason, key_switched_off, app_ids)
      values (${carol.id}, now(), 'left', true, ${sql.raw(`ARRAY['${carol.apps[0].id}']::uuid[]`)})`)
  })

  it('finds nothing in a clean database', async () => {
    const r = await verifyDatabase(database.db)
    expect(r.clean).toBe(true)
    expect(r.problemCount).toBe(0)
    expect(r.checks.map((c) => c.id)).toEqual(CHECKS.map((c) => c.id))
    for (const c of r.checks) expect(c).toMatchObject({count: 0, sample: []})
  })

  it.each(DEFECTS.map((d) => [d.check, d] as const))('reports %s, and only that', async (_id, defect) => {
    const expected = await defect.seed(seeded)
    const r = await verifyDatabase(database.db)
    expect(r.clean).toBe(false)
    const found = Object.fromEntries(r.checks.filter((c) => c.count > 0).map((c) => [c.id, c.sample]))
    expect(found).toEqual({[defect.check]: expected})
    expect(r.problemCount).toBe(expected.length)
    const severity = NOTICES.includes(defect.check) ? 'notice' : 'error'
    expect(r.checks.find((c) => c.id === defect.check)?.severity).toBe(severity)
    expect(severity === 'error' ? r.errorCount : r.noticeCount).toBe(expected.length)
    const strict = await verifyDatabase(database.db, {strict: true})
    expect(strict).toMatchObject({errorCount: expected.length, noticeCount: 0, strict: true})
  })

  it('does not report a half-deactivated user whose deactivation is recorded', async () => {
    const {alice} = seeded
    await database.db.execute(sql`update api_keys set is_active = false where user_id = ${alice.id}`)
    expect((await verifyDatabase(database.db)).clean).toBe(false)
    await database.db.execute(sql`
      insert into openmemory_admin.deactivations (user_uuid, deactivated_at, key_switched_off, app_ids)
      values (${alice.id}, now(), true, '{}')`)
    expect((await verifyDatabase(database.db)).clean).toBe(true)
  })

  it('counts every problem but samples the first five ids, sorted', async () => {
    const {alice, bob} = seeded
    const ids: string[] = []
    for (let i = 0; i < 7; i++)
      ids.push(await insertMemory(database, {userId: alice.id, appId: bob.apps[0].id}))
    const check = (await verifyDatabase(database.db)).checks.find(
      (c) => c.id === 'memories-app-of-other-user',
    )
    expect(check?.count).toBe(7)
    expect(check?.sample).toEqual(ids.sort().slice(0, SAMPLE_SIZE))
  })

  it('runs one set-based query per check, whatever the number of rows', async () => {
    const {alice} = seeded
    for (let i = 0; i < 20; i++)
      await insertMemory(database, {userId: alice.id, appId: alice.apps[0].id, state: 'deleted'})
    queries.length = 0
    await verifyDatabase(database.db)
    expect(queries.filter((q) => q.includes('count(*) over ()'))).toHaveLength(CHECKS.length)
    // Besides transaction control, only the probes of the deactivations and audit tables.
    const work = queries.filter((q) => !/^\s*(begin|commit|set transaction)/i.test(q))
    expect(work).toHaveLength(CHECKS.length + 2)
  })

  it('changes nothing', async () => {
    await seeded.database.db.execute(
      sql`update api_keys set is_active = false where user_id = ${seeded.alice.id}`,
    )
    const snapshot = async () =>
      JSON.stringify([
        await rows(database.db, sql`select * from users order by id`),
        await rows(database.db, sql`select * from api_keys order by id`),
        await rows(database.db, sql`select * from apps order by id`),
        await rows(database.db, sql`select id, state::text, deleted_at from memories order by id`),
      ])
    const before = await snapshot()
    await verifyDatabase(database.db)
    expect(await snapshot()).toBe(before)
  })
})

describe.each(DRIVERS)('verifyDatabase on an upgraded upstream database (%s)', (driver) => {
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

  it('accepts the upstream paused state and still finds a deleted memory without deleted_at', async () => {
    const alice = await createUser(database.db, {userId: 'alice'}, testContext().ctx)
    await insertMemory(database, {userId: alice.id, appId: alice.apps[0].id, state: 'paused'})
    expect((await verifyDatabase(database.db)).clean).toBe(true)
    const bad = await insertMemory(database, {userId: alice.id, appId: alice.apps[0].id, state: 'deleted'})
    const r = await verifyDatabase(database.db)
    expect(r.checks.filter((c) => c.count > 0).map((c) => [c.id, c.sample])).toEqual([
      ['memories-deleted-without-deleted-at', [bad]],
    ])
  })
})
