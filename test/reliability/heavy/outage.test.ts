/**
 * The PostgreSQL server stops in the middle of a prune run: the run exits 5
 * with one clear line naming the masked target, and a rerun after the
 * restart finishes the job with exactly the right users removed.
 *
 * Heavy run only: it stops the machine's shared PostgreSQL server for a few
 * seconds (and always restarts it).
 */
import {execFileSync} from 'node:child_process'
import {readdirSync} from 'node:fs'
import postgres from 'postgres'
import {expect, it} from 'vitest'
import {createTestDatabase} from '../../helpers/databases.js'
import {seedUsersBulk} from '../../helpers/seed.js'
import {runCli} from '../harness.js'

const version = readdirSync('/etc/postgresql')[0]
const ctl = (action: 'start' | 'stop') =>
  execFileSync(
    'pg_ctlcluster',
    ['--skip-systemctl-redirect', version, 'main', action, ...(action === 'stop' ? ['-m', 'fast'] : [])],
    {
      stdio: 'ignore',
    },
  )

async function waitForServer(url: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    const sql = postgres(url, {max: 1, connect_timeout: 2, onnotice: () => {}})
    try {
      await sql`select 1`
      return
    } catch {
      await new Promise((r) => setTimeout(r, 500))
    } finally {
      await sql.end({timeout: 1}).catch(() => {})
    }
  }
  throw new Error('PostgreSQL did not come back')
}

it('a prune interrupted by a server stop exits 5, and a rerun after restart completes it', async () => {
  const td = await createTestDatabase('postgres', 'multiuser')
  const url = new URL(td.url!)
  url.password = 'outageSecret1'
  const now = new Date()
  try {
    const d = await td.open({migrate: true})
    await (await import('../../../src/db/client.js')).runMigrations(d)
    await seedUsersBulk(d, {prefix: 'gone', count: 20_000, daysAgo: 400, now, memoriesEach: 3})
    await seedUsersBulk(d, {prefix: 'stay', count: 100, daysAgo: 1, now, memoriesEach: 3})
    await d.close()

    const watcher = postgres(td.url!, {max: 1, onnotice: () => {}})
    const run = runCli(
      [
        'prune-inactive',
        '--mode',
        'delete',
        '--yes',
        '--batch-size',
        '100',
        '--database-url',
        url.toString(),
      ],
      {
        env: {DEBUG: process.env.OUTAGE_DEBUG},
        timeoutMs: 120_000,
      },
    )
    // Stop the server once a few batches have committed.
    for (;;) {
      const [{n}] = await watcher`select count(*)::int as n from openmemory_admin.audit_log`
      if (n >= 500) break
      await new Promise((r) => setTimeout(r, 100))
    }
    await watcher.end({timeout: 1}).catch(() => {})
    let first: Awaited<typeof run>
    try {
      ctl('stop')
      first = await run
    } finally {
      ctl('start')
    }
    await waitForServer(td.url!)

    if (first.exitCode !== 5) console.log(`[reliability] outage stderr: ${first.stderr}`)
    expect(first.exitCode).toBe(5)
    const lines = first.stderr.trim().split('\n')
    expect(lines[0]).toMatch(/^openmemory: writing to postgres/)
    expect(lines.at(-1)).toMatch(/^Error: Cannot use database postgres(ql)?:\/\/postgres:\*\*\*@/)
    expect(first.stderr).not.toContain('outageSecret1')
    expect(first.stderr).not.toMatch(/\n\s+at /)

    const check = postgres(td.url!, {max: 1, onnotice: () => {}})
    const [mid] = await check`select count(*)::int as n from users where user_id like 'gone%'`
    expect(mid.n).toBeGreaterThan(0)
    expect(mid.n).toBeLessThan(20_000)
    await check.end()

    const second = await runCli(
      ['prune-inactive', '--mode', 'delete', '--yes', '--json', '--database-url', url.toString()],
      {
        timeoutMs: 300_000,
      },
    )
    expect(second.exitCode).toBe(0)
    expect(JSON.parse(second.stdout).changedCount).toBe(mid.n)

    const after = postgres(td.url!, {max: 1, onnotice: () => {}})
    const [r] = await after`select
      (select count(*) from users)::int as users,
      (select count(*) from memories)::int as memories,
      (select count(*) from apps)::int as apps,
      (select count(*) from api_keys)::int as keys,
      (select count(*) from openmemory_admin.audit_log where outcome = 'deleted')::int as audited`
    await after.end()
    expect(r).toEqual({users: 100, memories: 300, apps: 100, keys: 100, audited: 20_000})
    console.log(
      `[reliability] outage: stopped the server after ${20_000 - mid.n} deletions; rerun deleted ${mid.n}`,
    )
  } finally {
    await td.drop()
  }
})
