/**
 * The documented maximum --batch-size (10,000) works: no bulk statement may
 * pass the protocol's 65,535 bind parameters, however many users (and apps
 * per user) a batch holds. Real PostgreSQL.
 */
import {sql} from 'drizzle-orm'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import PruneInactive from '../../src/commands/prune-inactive.js'
import type {PruneResult} from '../../src/services/prune.js'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {runCommand} from '../helpers/run.js'
import {seedUsersBulk} from '../helpers/seed.js'
import {count} from '../helpers/server-rule.js'

const MAX = 10_000
const NOW = new Date()

describe('prune-inactive at --batch-size 10000 (PostgreSQL)', {timeout: 300_000}, () => {
  let td: TestDatabase
  const withDb = async <T>(fn: (d: Awaited<ReturnType<TestDatabase['open']>>) => Promise<T>) => {
    const d = await td.open({migrate: true})
    try {
      return await fn(d)
    } finally {
      await d.close()
    }
  }
  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser')
    await withDb(async (d) => {
      await seedUsersBulk(d, {prefix: 'idle', count: MAX, daysAgo: 400, now: NOW, memoriesEach: 1})
      // Six more apps per user: 70,000 app ids in one batch, more than the parameter limit alone.
      await d.db.execute(sql`
        insert into apps (id, owner_id, name, is_active, created_at, updated_at)
        select gen_random_uuid(), u.id, 'app' || g, true, now(), now()
        from users u, generate_series(1, 6) g`)
    })
  })
  afterAll(async () => td?.drop())

  it('deactivates a full batch of 10,000 users in one run', async () => {
    const r = await runCommand<PruneResult>(PruneInactive, [
      '--days',
      '90',
      '--yes',
      '--json',
      '--batch-size',
      String(MAX),
      '--database-url',
      td.url!,
    ])
    expect(r.stderr).not.toMatch(/Error/)
    expect(r.exitCode).toBe(0)
    expect(r.result).toMatchObject({matchedCount: MAX, changedCount: MAX, skippedCount: 0})
    await withDb(async (d) => {
      expect(await count(d, 'openmemory_admin.deactivations')).toBe(MAX)
      expect(await count(d, 'openmemory_admin.audit_log')).toBe(MAX)
      expect(await count(d, 'apps where is_active')).toBe(0)
    })
  })

  it('deletes a full batch of 10,000 users (and their 70,000 apps) in one run', async () => {
    const r = await runCommand<PruneResult>(PruneInactive, [
      '--days',
      '90',
      '--mode',
      'delete',
      '--yes',
      '--json',
      '--batch-size',
      String(MAX),
      '--database-url',
      td.url!,
    ])
    expect(r.stderr).not.toMatch(/Error/)
    expect(r.exitCode).toBe(0)
    expect(r.result).toMatchObject({matchedCount: MAX, changedCount: MAX, skippedCount: 0})
    await withDb(async (d) => {
      expect(await count(d, 'users')).toBe(0)
      expect(await count(d, 'apps')).toBe(0)
      expect(await count(d, 'memories')).toBe(0)
      expect(await count(d, "openmemory_admin.audit_log where details->>'action' = 'delete'")).toBe(MAX)
    })
  })
})
