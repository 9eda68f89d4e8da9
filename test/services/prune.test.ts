import {sql} from 'drizzle-orm'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/client.js'
import {rows} from '../../src/db/sql.js'
import {listAudit} from '../../src/services/audit.js'
import {reactivateUser} from '../../src/services/lifecycle.js'
import {pruneInactive} from '../../src/services/prune.js'
import {testContext} from '../helpers/context.js'
import {createTestDatabase, DRIVERS, resetTables, type TestDatabase} from '../helpers/databases.js'
import {seedUsersBulk} from '../helpers/seed.js'
import {count} from '../helpers/server-rule.js'

const NOW = new Date('2026-06-01T00:00:00.000Z')
const DAY = 86_400_000

describe.each(DRIVERS)('prune-inactive service on %s', (driver) => {
  let td: TestDatabase
  let database: Database
  beforeAll(async () => {
    td = await createTestDatabase(driver, 'multiuser', {migrated: true})
    database = await td.open({migrate: true})
  })
  afterAll(async () => {
    await database?.close()
    await td?.drop()
  })
  beforeEach(async () => resetTables(database))
  const ctx = () => testContext('prune-inactive', NOW).ctx
  const setSeen = (userId: string, at: Date | null, created = at) =>
    database.db.execute(sql`update users set last_active = ${at?.toISOString() ?? null}::timestamp,
      created_at = ${created?.toISOString() ?? null}::timestamp where user_id = ${userId}`)
  const deactivated = async () =>
    (
      await rows<{user_id: string}>(
        database.db,
        sql`select u.user_id from openmemory_admin.deactivations d
      join users u on u.id = d.user_uuid order by u.user_id`,
      )
    ).map((r) => r.user_id)

  it('changes users just outside the window and keeps those just inside', async () => {
    await seedUsersBulk(database, {prefix: 'edge', count: 3, daysAgo: 0, now: NOW})
    const cutoff = NOW.getTime() - 90 * DAY
    await setSeen('edge1', new Date(cutoff - 1000)) // inactive for 90 days and a second
    await setSeen('edge2', new Date(cutoff + 1000)) // a second short of 90 days
    await setSeen('edge3', new Date(cutoff)) // exactly 90 days: not older than the cutoff
    const r = await pruneInactive(database.db, {days: 90, mode: 'deactivate'}, ctx())
    expect(r).toMatchObject({
      matchedCount: 1,
      changedCount: 1,
      skippedCount: 0,
      userIds: ['edge1'],
      cutoffAt: new Date(cutoff).toISOString(),
    })
    expect(await deactivated()).toEqual(['edge1'])
  })

  it('judges users who never logged in by created_at', async () => {
    await seedUsersBulk(database, {prefix: 'never', count: 2, daysAgo: 100, now: NOW, neverActive: true})
    await setSeen('never2', null, new Date(NOW.getTime() - 10 * DAY))
    const r = await pruneInactive(database.db, {days: 90, mode: 'deactivate'}, ctx())
    expect(r.userIds).toEqual(['never1'])
  })

  it('honours --exclude and --limit', async () => {
    await seedUsersBulk(database, {prefix: 'ex', count: 5, daysAgo: 200, now: NOW})
    const r = await pruneInactive(
      database.db,
      {days: 90, mode: 'deactivate', exclude: ['ex2', 'ex4'], limit: 2},
      ctx(),
    )
    expect(r.changedCount).toBe(2)
    expect(r.matchedCount).toBe(2)
    expect(r.userIds.every((u) => !['ex2', 'ex4'].includes(u))).toBe(true)
    const rest = await pruneInactive(
      database.db,
      {days: 90, mode: 'deactivate', exclude: ['ex2', 'ex4']},
      ctx(),
    )
    expect(rest.changedCount).toBe(1)
    expect(await deactivated()).toEqual(['ex1', 'ex3', 'ex5'])
  })

  it('writes nothing in a dry run', async () => {
    await seedUsersBulk(database, {prefix: 'dry', count: 3, daysAgo: 200, now: NOW, memoriesEach: 2})
    const r = await pruneInactive(database.db, {days: 90, mode: 'delete', dryRun: true}, ctx())
    expect(r).toMatchObject({dryRun: true, matchedCount: 3, changedCount: 0})
    expect(await count(database, 'users')).toBe(3)
    expect(await count(database, 'memories')).toBe(6)
    expect(await count(database, 'openmemory_admin.audit_log')).toBe(0)
  })

  it('keeps a user whose last_active is refreshed between selection and change', async () => {
    await seedUsersBulk(database, {prefix: 'race', count: 3, daysAgo: 200, now: NOW})
    const r = await pruneInactive(database.db, {days: 90, mode: 'delete'}, ctx(), {
      beforeBatch: async (selected) => {
        expect(selected).toContain('race2')
        await setSeen('race2', NOW)
      },
    })
    expect(r).toMatchObject({matchedCount: 3, changedCount: 2, skippedCount: 1})
    expect(
      (await rows<{user_id: string}>(database.db, sql`select user_id from users`)).map((u) => u.user_id),
    ).toEqual(['race2'])
  })

  it('deletes inactive users and everything of theirs, auditing each', async () => {
    await seedUsersBulk(database, {prefix: 'gone', count: 3, daysAgo: 200, now: NOW, memoriesEach: 4})
    await seedUsersBulk(database, {prefix: 'stay', count: 2, daysAgo: 1, now: NOW, memoriesEach: 4})
    const r = await pruneInactive(database.db, {days: 90, mode: 'delete', batchSize: 2}, ctx())
    expect(r.changedCount).toBe(3)
    expect(await count(database, 'users')).toBe(2)
    expect(await count(database, 'memories')).toBe(8)
    expect(await count(database, 'apps')).toBe(2)
    expect(await count(database, 'api_keys')).toBe(2)
    const audit = await listAudit(database.db, {limit: 10})
    expect(audit.map((a) => a.userId).sort()).toEqual(['gone1', 'gone2', 'gone3'])
    expect(audit.every((a) => a.outcome === 'deleted' && a.command === 'prune-inactive')).toBe(true)
  })

  it('deactivation is undone by users reactivate', async () => {
    await seedUsersBulk(database, {prefix: 'undo', count: 1, daysAgo: 200, now: NOW})
    await pruneInactive(database.db, {days: 90, mode: 'deactivate'}, ctx())
    const r = await reactivateUser(database.db, 'undo1', ctx())
    expect(r).toMatchObject({changed: true, keyReactivated: true, appsReactivated: ['default']})
  })

  it('processes 10,000 inactive users in batches', async () => {
    await seedUsersBulk(database, {prefix: 'bulk', count: 10_000, daysAgo: 365, now: NOW})
    await seedUsersBulk(database, {prefix: 'live', count: 100, daysAgo: 1, now: NOW})
    const batches: number[] = []
    const r = await pruneInactive(database.db, {days: 90, mode: 'deactivate', batchSize: 1000}, ctx(), {
      onBatch: ({changed}) => batches.push(changed),
    })
    expect(r).toMatchObject({matchedCount: 10_000, changedCount: 10_000, skippedCount: 0})
    expect(batches).toEqual(Array.from({length: 10}, (_, i) => (i + 1) * 1000))
    expect(await count(database, 'openmemory_admin.deactivations')).toBe(10_000)
    const [active] = await rows<{n: number}>(
      database.db,
      sql`select count(*)::int as n from api_keys where is_active`,
    )
    expect(active.n).toBe(100)
    expect(await count(database, 'openmemory_admin.audit_log')).toBe(10_000)
  })
})
