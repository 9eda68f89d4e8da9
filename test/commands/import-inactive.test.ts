/**
 * Export → import keeps who is not active: a row `users list --format csv`
 * shows deactivated, or with a revoked key, exits 2 naming its line unless
 * `--include-inactive`, which creates it deactivated (key and apps off,
 * recorded as a deactivation `users reactivate` undoes). The source holds
 * users written the way the server writes them (plantServerUser), switched off
 * with the tool's own documented commands.
 */

import postgres from 'postgres'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {runBin} from '../helpers/run.js'
import {plantServerUser} from '../helpers/seed.js'

describe('users import of inactive rows', () => {
  let source: TestDatabase
  let target: TestDatabase
  let csv = ''
  const on = (td: TestDatabase) => ({OPENMEMORY_DATABASE_URL: td.url, DATABASE_URL: undefined})
  beforeAll(async () => {
    source = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    target = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    const d = await source.open()
    try {
      for (const id of ['alpha', 'beta', 'gamma']) await plantServerUser(d, id)
    } finally {
      await d.close()
    }
    expect((await runBin(['users', 'deactivate', 'beta', '--yes'], {env: on(source)})).exitCode).toBe(0)
    expect((await runBin(['keys', 'revoke', 'gamma', '--yes'], {env: on(source)})).exitCode).toBe(0)
    const exported = await runBin(['users', 'list', '--format', 'csv'], {env: on(source)})
    expect(exported.exitCode).toBe(0)
    csv = exported.stdout
  })
  afterAll(async () => {
    await source?.drop()
    await target?.drop()
  })

  it('refuses them by line without --include-inactive, writing nothing', async () => {
    const r = await runBin(['users', 'import', '-', '--dry-run'], {
      env: on(target),
      input: csv,
    })
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/line 3: "?beta"? is deactivated in the source; --include-inactive/)
    expect(r.stderr).toMatch(/line 4: "?gamma"? is key revoked in the source/)
    const sql = postgres(target.url as string, {max: 1, onnotice: () => {}})
    try {
      expect((await sql`select count(*)::int as n from users`)[0]?.n).toBe(0)
    } finally {
      await sql.end()
    }
  })

  it('creates them deactivated with --include-inactive; users reactivate undoes it', async () => {
    const keys = `${process.env.TMPDIR ?? '/tmp'}/om-inactive-${process.pid}.csv`
    const r = await runBin(['users', 'import', '-', '--include-inactive', '--keys-out', keys, '--json'], {
      env: on(target),
      input: csv,
    })
    expect(r.exitCode, r.stderr).toBe(0)
    const sql = postgres(target.url as string, {max: 1, onnotice: () => {}})
    try {
      const state = await sql<{user_id: string; key: boolean; apps: boolean; deactivated: boolean}[]>`
        select u.user_id, k.is_active as key, bool_or(a.is_active) as apps,
               exists (select 1 from openmemory_admin.deactivations d where d.user_uuid = u.id) as deactivated
        from users u join api_keys k on k.user_id = u.id join apps a on a.owner_id = u.id
        group by u.user_id, k.is_active, u.id order by u.user_id`
      expect(state).toEqual([
        {user_id: 'alpha', key: true, apps: true, deactivated: false},
        {user_id: 'beta', key: false, apps: false, deactivated: true},
        {user_id: 'gamma', key: false, apps: false, deactivated: true},
      ])
      expect((await runBin(['db', 'verify'], {env: on(target)})).exitCode).toBe(0)
      expect((await runBin(['users', 'reactivate', 'beta'], {env: on(target)})).exitCode).toBe(0)
      const [beta] = await sql`select k.is_active from api_keys k join users u on u.id = k.user_id
                               where u.user_id = 'beta'`
      expect(beta?.is_active).toBe(true)
    } finally {
      await sql.end()
      const {rmSync} = await import('node:fs')
      rmSync(keys, {force: true})
    }
  })
})
