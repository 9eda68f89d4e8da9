import {sql} from 'drizzle-orm'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import PruneInactive from '../../src/commands/prune-inactive.js'
import {runMigrations} from '../../src/db/client.js'
import {startEmbedded} from '../../src/db/embedded.js'
import {rows} from '../../src/db/sql.js'
import {createTestDatabase, holdRunLock, resetTables, type TestDatabase} from '../helpers/databases.js'
import {runBin, runCommand} from '../helpers/run.js'
import {seedUsersBulk} from '../helpers/seed.js'
import {count} from '../helpers/server-rule.js'

const NOW = new Date()

describe('prune-inactive (command, PostgreSQL)', () => {
  let td: TestDatabase
  let url: string
  const withDb = async <T>(fn: (d: Awaited<ReturnType<TestDatabase['open']>>) => Promise<T>) => {
    const d = await td.open()
    try {
      return await fn(d)
    } finally {
      await d.close()
    }
  }
  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    // Put a password in the URL to check it is masked (trust auth ignores it).
    const u = new URL(td.url!)
    u.password = 'pruneSecret99'
    url = u.toString()
    await withDb(runMigrations)
  })
  afterAll(async () => td?.drop())
  beforeEach(async () => withDb(resetTables))

  it('without a terminal and without --yes exits 2 and changes nothing', async () => {
    await withDb((d) => seedUsersBulk(d, {prefix: 'cron', count: 3, daysAgo: 200, now: NOW}))
    const r = await runCommand(PruneInactive, ['--days', '90', '--database-url', url])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('--yes')
    expect(await withDb((d) => count(d, 'openmemory_admin.deactivations'))).toBe(0)
  })

  it('prints the masked target on stderr first and a JSON summary', async () => {
    await withDb((d) => seedUsersBulk(d, {prefix: 'old', count: 3, daysAgo: 200, now: NOW}))
    await withDb((d) => seedUsersBulk(d, {prefix: 'new', count: 2, daysAgo: 2, now: NOW}))
    const r = await runCommand(PruneInactive, ['--days', '90', '--yes', '--json', '--database-url', url])
    expect(r.exitCode).toBe(0)
    // Under --json the target line is itself a JSON line.
    expect(JSON.parse(r.stderr.split('\n')[0])).toMatchObject({
      event: 'target',
      target: url.replace('pruneSecret99', '***'),
      source: '--database-url',
    })
    expect(r.stdout + r.stderr).not.toContain('pruneSecret99')
    const out = JSON.parse(r.stdout)
    expect(Object.keys(out).sort()).toEqual(
      [
        'changedCount',
        'cutoffAt',
        'days',
        'dryRun',
        'durationMs',
        'matchedCount',
        'mode',
        'skippedCount',
        'startedAt',
        'userIds',
      ].sort(),
    )
    expect(out).toMatchObject({
      days: 90,
      mode: 'deactivate',
      matchedCount: 3,
      changedCount: 3,
      skippedCount: 0,
      dryRun: false,
    })
    expect(out.userIds.sort()).toEqual(['old1', 'old2', 'old3'])
  })

  it('lists who would be affected in a dry run, without --yes, and writes nothing', async () => {
    await withDb((d) => seedUsersBulk(d, {prefix: 'dry', count: 2, daysAgo: 200, now: NOW}))
    const r = await runCommand(PruneInactive, ['--dry-run', '--database-url', url])
    expect(r.exitCode).toBe(0)
    expect(r.stdout.trim().split('\n').sort()).toEqual(['dry1', 'dry2'])
    expect(await withDb((d) => count(d, 'openmemory_admin.audit_log'))).toBe(0)
  })

  it('exits 75 at once, changing nothing, while another run holds the lock', async () => {
    await withDb((d) => seedUsersBulk(d, {prefix: 'busy', count: 2, daysAgo: 200, now: NOW}))
    const holder = await holdRunLock(td.url!, 'prune-inactive')
    try {
      // Returns although the lock stays held: the run does not wait for it.
      const r = await runCommand(PruneInactive, ['--yes', '--database-url', url])
      expect(r.exitCode).toBe(75)
      expect(await withDb((d) => count(d, 'openmemory_admin.deactivations'))).toBe(0)
    } finally {
      await holder.release()
    }
  })

  it('lets exactly one of two concurrent runs proceed; the other exits 75', async () => {
    await withDb((d) =>
      seedUsersBulk(d, {prefix: 'duo', count: 3000, daysAgo: 200, now: NOW, memoriesEach: 2}),
    )
    const [a, b] = await Promise.all([
      runBin(['prune-inactive', '--mode', 'delete', '--yes', '--batch-size', '20', '--database-url', url]),
      runBin(['prune-inactive', '--mode', 'delete', '--yes', '--batch-size', '20', '--database-url', url]),
    ])
    expect([a.exitCode, b.exitCode].sort()).toEqual([0, 75])
    expect(await withDb((d) => count(d, 'users'))).toBe(0)
  })

  it('after being killed mid-run, a second run finishes with exactly the right users changed', async () => {
    await withDb((d) =>
      seedUsersBulk(d, {prefix: 'kill', count: 4000, daysAgo: 200, now: NOW, memoriesEach: 3}),
    )
    await withDb((d) => seedUsersBulk(d, {prefix: 'keep', count: 50, daysAgo: 3, now: NOW, memoriesEach: 3}))
    // Kill it once some batches have committed.
    const killed = await runBin(
      ['prune-inactive', '--mode', 'delete', '--yes', '--batch-size', '50', '--database-url', url],
      {
        killWhen: async () => {
          const deadline = Date.now() + 60_000
          while ((await withDb((d) => count(d, 'openmemory_admin.audit_log'))) < 200) {
            if (Date.now() > deadline) break
            await new Promise((r) => setTimeout(r, 50))
          }
          return true
        },
      },
    )
    expect(killed.killed).toBe(true)
    const mid = await withDb((d) => count(d, "users where user_id like 'kill%'"))
    expect(mid).toBeGreaterThan(0)
    expect(mid).toBeLessThan(4000)
    // Every committed batch is complete: no user without their key/app, no orphan memories.
    expect(
      await withDb((d) =>
        count(d, 'memories m where not exists (select 1 from users u where u.id = m.user_id)'),
      ),
    ).toBe(0)
    const again = await runBin([
      'prune-inactive',
      '--mode',
      'delete',
      '--yes',
      '--json',
      '--database-url',
      url,
    ])
    expect(again.exitCode).toBe(0)
    expect(JSON.parse(again.stdout).changedCount).toBe(mid)
    expect(await withDb((d) => count(d, 'users'))).toBe(50)
    expect(await withDb((d) => count(d, 'memories'))).toBe(150)
    expect(await withDb((d) => count(d, "openmemory_admin.audit_log where outcome = 'deleted'"))).toBe(4000)
  })
})

describe('prune-inactive (command, embedded)', () => {
  let td: TestDatabase
  beforeAll(async () => {
    td = await createTestDatabase('embedded', undefined, {migrated: true})
    const d = await td.open()
    await seedUsersBulk(d, {prefix: 'emb', count: 5, daysAgo: 200, now: NOW})
    await d.close()
  })
  afterAll(async () => td?.drop())

  it('exits 75 at once while another process holds the embedded database', async () => {
    // Another command holding it: its server, started as the CLI starts it.
    const holder = await startEmbedded(td.dataDir!, {lockWaitMs: 0})
    try {
      const r = await runCommand(PruneInactive, ['--yes'], {
        OPENMEMORY_DATA_DIR: td.dataDir,
        DATABASE_URL: undefined,
      })
      expect(r.exitCode).toBe(75)
    } finally {
      await holder.stop()
    }
  })

  it('deactivates inactive users in the embedded database', async () => {
    const r = await runCommand<{changedCount: number}>(PruneInactive, ['--yes', '--json'], {
      OPENMEMORY_DATA_DIR: td.dataDir,
      DATABASE_URL: undefined,
      OPENMEMORY_DATABASE_URL: undefined,
    })
    expect(r.exitCode).toBe(0)
    expect(JSON.parse(r.stdout).changedCount).toBe(5)
    const d = await td.open()
    const found = await rows<{n: number}>(d.db, sql`select count(*)::int as n from api_keys where is_active`)
    await d.close()
    expect(found[0].n).toBe(0)
  })
})
