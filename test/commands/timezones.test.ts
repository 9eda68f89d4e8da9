/**
 * Time as the server keeps it, on databases whose TimeZone is UTC,
 * America/New_York and Asia/Tokyo (`ALTER DATABASE … SET timezone`).
 *
 * Rows are written the way the server writes them: SQLAlchemy sends
 * `datetime.now(datetime.UTC)` (an aware UTC instant; zinohome/openmemory-multiuser
 * api/app/models.py `get_current_utc_time`, auth.py `last_active`/`last_used`
 * at 541f4739) into naive `timestamp` columns, so PostgreSQL stores the wall
 * time of the session's zone, the database's. Here: `<instant>::timestamptz`
 * into the naive column from a session in the database's zone.
 *
 * Checked: every listing and `users show` give the true instant (ISO UTC with
 * Z); age cut-offs (`prune-inactive --days`, `users list --inactive-days`,
 * `keys list --older-than`) split rows 30 minutes either side of the cut-off
 * correctly; the tool's own writes land as the server's would (its
 * `created_at` reads back as now, in the database's zone).
 */

import postgres from 'postgres'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {runBin} from '../helpers/run.js'

const DAY = 86_400_000
const HALF_HOUR = 30 * 60_000

describe.each(['UTC', 'America/New_York', 'Asia/Tokyo'])('a database whose TimeZone is %s', (zone) => {
  let td: TestDatabase
  let sql: postgres.Sql
  let env: Record<string, string | undefined>
  const now = Date.now()
  // Either side of the 30-day cut-off, by half an hour.
  const justOld = new Date(now - 30 * DAY - HALF_HOUR)
  const justNew = new Date(now - 30 * DAY + HALF_HOUR)
  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    const name = new URL(td.url as string).pathname.slice(1)
    const admin = postgres(td.url as string, {max: 1, onnotice: () => {}})
    await admin.unsafe(`alter database "${name}" set timezone = '${zone}'`)
    await admin.end()
    // A new session: it takes the database's zone, as the server's sessions do.
    sql = postgres(td.url as string, {max: 1, onnotice: () => {}})
    const [{tz}] = await sql`select current_setting('TimeZone') as tz`
    expect(tz).toBe(zone)
    for (const [userId, at] of [
      ['oldie', justOld],
      ['newbie', justNew],
    ] as const) {
      const iso = at.toISOString()
      await sql`
        with u as (
          insert into users (id, user_id, name, created_at, updated_at, last_active)
          values (gen_random_uuid(), ${userId}, ${userId}, ${iso}::timestamptz, ${iso}::timestamptz, ${iso}::timestamptz)
          returning id)
        , k as (insert into api_keys (id, user_id, key_hash, created_at, last_used, is_active)
          select gen_random_uuid(), id, md5(${userId}) || md5(${userId}), ${iso}::timestamptz, ${iso}::timestamptz, true from u)
        insert into apps (id, owner_id, name, is_active, created_at, updated_at)
        select gen_random_uuid(), id, 'default', true, ${iso}::timestamptz, ${iso}::timestamptz from u`
    }
    env = {OPENMEMORY_DATABASE_URL: td.url, DATABASE_URL: undefined}
  })
  afterAll(async () => {
    await sql?.end()
    await td?.drop()
  })

  const json = async <T>(args: string[]): Promise<T> => {
    const r = await runBin([...args, '--json'], {env})
    expect(r.exitCode, r.stderr).toBe(0)
    return JSON.parse(r.stdout) as T
  }

  it('listings and users show give the true instants', async () => {
    const list = await json<{userId: string; createdAt: string; lastActiveAt: string}[]>(['users', 'list'])
    const byId = Object.fromEntries(list.map((u) => [u.userId, u]))
    expect(byId.oldie).toMatchObject({createdAt: justOld.toISOString(), lastActiveAt: justOld.toISOString()})
    expect(byId.newbie).toMatchObject({createdAt: justNew.toISOString()})
    const keys = await json<{userId: string; createdAt: string; lastUsedAt: string}[]>(['keys', 'list'])
    expect(keys.find((k) => k.userId === 'oldie')).toMatchObject({
      createdAt: justOld.toISOString(),
      lastUsedAt: justOld.toISOString(),
    })
    const show = await json<{createdAt: string; lastActiveAt: string; key: {createdAt: string}}>([
      'users',
      'show',
      'oldie',
    ])
    expect(show).toMatchObject({createdAt: justOld.toISOString(), lastActiveAt: justOld.toISOString()})
    expect(show.key.createdAt).toBe(justOld.toISOString())
  })

  it('age cut-offs split rows half an hour either side correctly', async () => {
    const prune = await json<{userIds: string[]}>(['prune-inactive', '--days', '30', '--dry-run'])
    expect(prune.userIds).toEqual(['oldie'])
    const inactive = await json<{userId: string}[]>(['users', 'list', '--inactive-days', '30'])
    expect(inactive.map((u) => u.userId)).toEqual(['oldie'])
    const old = await json<{userId: string}[]>(['keys', 'list', '--older-than', '30d'])
    expect(old.map((k) => k.userId)).toEqual(['oldie'])
  })

  it("the tool's own writes land as the server's would", async () => {
    const r = await runBin(['users', 'create', 'fresh', 'Fresh', '--json'], {env})
    expect(r.exitCode, r.stderr).toBe(0)
    // Stored as the wall time of the database's zone: it reads back as now there.
    const [row] = await sql`
      select abs(extract(epoch from (created_at - localtimestamp)))::float as skew,
             abs(extract(epoch from (created_at::timestamptz - now())))::float as instant_skew
      from users where user_id = 'fresh'`
    expect(row.skew).toBeLessThan(120)
    expect(row.instant_skew).toBeLessThan(120)
    const list = await json<{userId: string; createdAt: string}[]>(['users', 'list'])
    const created = Date.parse(list.find((u) => u.userId === 'fresh')?.createdAt ?? '')
    expect(Math.abs(created - Date.now())).toBeLessThan(120_000)
  })
})
