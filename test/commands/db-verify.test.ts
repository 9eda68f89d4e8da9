import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {sql} from 'drizzle-orm'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import DbVerify from '../../src/commands/db/verify.js'
import KeysRevoke from '../../src/commands/keys/revoke.js'
import KeysRotate from '../../src/commands/keys/rotate.js'
import PruneInactive from '../../src/commands/prune-inactive.js'
import UsersDeactivate from '../../src/commands/users/deactivate.js'
import UsersDelete from '../../src/commands/users/delete.js'
import UsersImport from '../../src/commands/users/import.js'
import UsersReactivate from '../../src/commands/users/reactivate.js'
import {rows} from '../../src/db/sql.js'
import {createUser} from '../../src/services/users.js'
import {CHECKS} from '../../src/services/verify.js'
import {testContext} from '../helpers/context.js'
import {createTestDatabase, resetTables, type TestDatabase} from '../helpers/databases.js'
import {runBin, runCommand} from '../helpers/run.js'
import {seedUsersBulk} from '../helpers/seed.js'

describe('db verify (command)', () => {
  let td: TestDatabase
  let url: string
  beforeAll(async () => {
    td = await createTestDatabase('postgres', undefined, {migrated: true})
    url = td.url!
    const d = await td.open({migrate: true})
    await d.close()
  })
  afterAll(async () => td?.drop())
  beforeEach(async () => {
    const d = await td.open()
    await resetTables(d)
    await createUser(d.db, {userId: 'alice'}, testContext().ctx)
    await createUser(d.db, {userId: 'bob'}, testContext().ctx)
    await d.close()
  })
  const withDb = async (fn: (d: Awaited<ReturnType<TestDatabase['open']>>) => Promise<void>) => {
    const d = await td.open()
    try {
      await fn(d)
    } finally {
      await d.close()
    }
  }

  it('exits 0 on a clean database, one line per check', async () => {
    const r = await runCommand(DbVerify, ['--database-url', url])
    expect(r.exitCode).toBe(0)
    const lines = r.stdout.trim().split('\n')
    expect(lines).toHaveLength(CHECKS.length + 1)
    for (const line of lines.slice(0, -1)) expect(line).toMatch(/^ok {10}0 {2}\S/)
    expect(lines.at(-1)).toBe(`No problems found (${CHECKS.length} checks).`)
    expect(r.stderr).toBe('')
  })

  it("exits 0 after the tool's own documented operations (revoke, rotate, deactivate, reactivate, delete)", async () => {
    const steps: [Parameters<typeof runCommand>[0], string[]][] = [
      [KeysRevoke, ['alice', '--yes']],
      [UsersDeactivate, ['bob', '--yes']],
      [KeysRotate, ['bob', '--yes']],
      [UsersReactivate, ['bob']],
      [UsersDelete, ['bob', '--yes']],
    ]
    for (const [cmd, argv] of steps) {
      expect((await runCommand(cmd, [...argv, '--database-url', url])).exitCode).toBe(0)
      const r = await runCommand(DbVerify, ['--database-url', url])
      expect(r.exitCode, `after ${argv.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0)
    }
    // The same state made by hand (a key switched off outside the tool) is still found.
    await withDb(async (d) => {
      await createUser(d.db, {userId: 'carol'}, testContext().ctx)
      await d.db.execute(
        sql`update api_keys set is_active = false where user_id = (select id from users where user_id = 'carol')`,
      )
    })
    expect((await runCommand(DbVerify, ['--database-url', url])).exitCode).toBe(1)
  })

  it('exits 0 after the bulk operations too (import, rotation by age, prune in both modes)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'om-verify-'))
    try {
      const csv = path.join(dir, 'team.csv')
      writeFileSync(csv, 'userId,name,email\ncarol,Carol,carol@example.com\ndave,Dave,\n')
      await withDb((d) => seedUsersBulk(d, {prefix: 'old', count: 6, daysAgo: 400, now: new Date()}))
      const steps: [Parameters<typeof runCommand>[0], string[]][] = [
        [UsersImport, [csv, '--keys-out', path.join(dir, 'imported.csv')]],
        [KeysRotate, ['--older-than', '300d', '--yes', '--keys-out', path.join(dir, 'rotated.csv')]],
        [PruneInactive, ['--days', '90', '--limit', '3', '--yes']],
        [PruneInactive, ['--days', '90', '--mode', 'delete', '--yes']],
      ]
      for (const [cmd, argv] of steps) {
        const done = await runCommand(cmd, [...argv, '--database-url', url])
        expect(done.exitCode, `${argv.join(' ')}: ${done.stderr}`).toBe(0)
        const r = await runCommand(DbVerify, ['--database-url', url])
        expect(r.exitCode, `after ${argv.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0)
      }
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('--quiet prints nothing when clean, and only the findings otherwise', async () => {
    const clean = await runCommand(DbVerify, ['--quiet', '--database-url', url])
    expect(clean.exitCode).toBe(0)
    expect(clean.stdout).toBe('')
    expect(clean.stderr).toBe('')
    await withDb(async (d) => {
      await d.db.execute(
        sql`update api_keys set is_active = false where user_id = (select id from users where user_id = 'bob')`,
      )
    })
    const dirty = await runCommand(DbVerify, ['-q', '--database-url', url])
    expect(dirty.exitCode).toBe(1)
    expect(dirty.stdout.trim().split('\n')).toEqual([
      'FAIL        1  users with an inactive key but active apps, not deactivated or revoked by this tool: bob',
    ])
    expect(dirty.stderr.trim()).toBe('Error: db verify found 1 error in 1 check: half-deactivated-key-off.')
  })

  it('exits 1 with the count and sample ids, and one error line naming the check', async () => {
    await withDb(async (d) => {
      await d.db.execute(
        sql`update api_keys set is_active = false where user_id = (select id from users where user_id = 'bob')`,
      )
    })
    const r = await runCommand(DbVerify, ['--database-url', url])
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toContain(
      'FAIL        1  users with an inactive key but active apps, not deactivated or revoked by this tool: bob',
    )
    expect(r.stderr.trim()).toBe('Error: db verify found 1 error in 1 check: half-deactivated-key-off.')
  })

  it('gives the checks as data with --json, also when it finds something', async () => {
    const clean = await runCommand(DbVerify, ['--json', '--database-url', url])
    expect(clean.exitCode).toBe(0)
    const ok = JSON.parse(clean.stdout)
    expect(Object.keys(ok)).toEqual(
      expect.arrayContaining([
        'checks',
        'clean',
        'errorCount',
        'noticeCount',
        'problemCount',
        'strict',
        'startedAt',
        'durationMs',
      ]),
    )
    expect(ok.checks).toHaveLength(CHECKS.length)
    expect(Object.keys(ok.checks[0]).sort()).toEqual([
      'count',
      'description',
      'id',
      'sample',
      'severity',
      'subject',
    ])

    await withDb(async (d) => {
      await d.db.execute(
        sql`update apps set name = 'other' where owner_id = (select id from users where user_id = 'alice')`,
      )
    })
    const dirty = await runCommand(DbVerify, ['--json', '--strict', '--database-url', url])
    expect(dirty.exitCode).toBe(1)
    const out = JSON.parse(dirty.stdout)
    expect(out).toMatchObject({
      clean: false,
      problemCount: 1,
      errorCount: 1,
      noticeCount: 0,
      strict: true,
      error: {code: 'CHECK_FAILED', exitCode: 1},
    })
    expect(out.checks.find((c: {id: string}) => c.id === 'users-without-default-app')).toMatchObject({
      count: 1,
      sample: ['alice'],
      subject: 'user',
    })
  })

  // What the real server writes in normal use, done here the way its code does it:
  // PUT /api/v1/memories/{id} {"state": "archived"|"deleted"} sets state and updated_at only
  // (api/app/routers/memories.py lines 311-336 @65edc725); DELETE /api/v1/apps/{id} sets
  // apps.is_active = false and leaves the user working (api/app/routers/apps.py lines 94-118 @541f4739).
  it("shows the server's own normal writes as notices, exit 0; --strict makes them errors", async () => {
    await withDb(async (d) => {
      const [alice] = await rows<{id: string; app: string}>(
        d.db,
        sql`select u.id::text as id, a.id::text as app from users u join apps a on a.owner_id = u.id where u.user_id = 'alice'`,
      )
      for (const state of ['archived', 'deleted']) {
        await d.db.execute(sql`
          insert into memories (id, user_id, app_id, content, state, created_at, updated_at)
          values (gen_random_uuid(), ${alice.id}, ${alice.app}, 'm', 'active', now(), now())`)
        await d.db.execute(sql`
          update memories set state = ${state}::memorystate, updated_at = now()
          where id = (select id from memories where state = 'active' and user_id = ${alice.id} limit 1)`)
      }
      await d.db.execute(sql`update apps set is_active = false where id = ${alice.app}`)
    })
    const r = await runCommand(DbVerify, ['--database-url', url])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(/^note {8}1 {2}memories in state deleted without deleted_at/m)
    expect(r.stdout).toMatch(/^note {8}1 {2}memories in state archived without archived_at/m)
    expect(r.stdout).toMatch(/^note {8}1 {2}users with an active key but every app inactive.*: alice$/m)
    expect(r.stdout.trim().split('\n').at(-1)).toBe(
      'No errors; 3 notices in 3 checks (what the server itself writes; --strict makes them errors).',
    )
    const strict = await runCommand(DbVerify, ['--strict', '--database-url', url])
    expect(strict.exitCode).toBe(1)
    expect(strict.stderr).toContain('db verify found 3 errors in 3 checks')
  })

  it('keeps cross-user and orphan checks as errors even beside notices', async () => {
    await withDb(async (d) => {
      await d.db.execute(sql`
        insert into memories (id, user_id, app_id, content, state, created_at, updated_at)
        select gen_random_uuid(), a.id, b.id, 'leak', 'active', now(), now()
        from users a, apps b join users bu on bu.id = b.owner_id
        where a.user_id = 'alice' and bu.user_id = 'bob' and b.name = 'default'`)
      await d.db.execute(
        sql`update apps set is_active = false where owner_id = (select id from users where user_id = 'bob')`,
      )
    })
    const r = await runCommand(DbVerify, ['--database-url', url])
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(/^FAIL {8}1 {2}memories whose app belongs to another user/m)
    expect(r.stderr.trim()).toBe('Error: db verify found 1 error in 1 check: memories-app-of-other-user.')
  })
})

describe('db verify (built binary, embedded database)', () => {
  let td: TestDatabase
  beforeAll(async () => {
    td = await createTestDatabase('embedded', undefined, {migrated: true})
    const d = await td.open()
    await createUser(d.db, {userId: 'carol'}, testContext().ctx)
    await d.close()
  })
  afterAll(async () => td?.drop())

  it('exits 0 when clean and 1 after a cross-user memory appears', async () => {
    const env = {OPENMEMORY_DATA_DIR: td.dataDir, DATABASE_URL: undefined, OPENMEMORY_DATABASE_URL: undefined}
    const clean = await runBin(['db', 'verify'], {env})
    expect(clean.stderr).toBe('')
    expect(clean.exitCode).toBe(0)

    const d = await td.open()
    const dave = await createUser(d.db, {userId: 'dave'}, testContext().ctx)
    const [{id}] = await rows<{id: string}>(
      d.db,
      sql`
      insert into memories (id, user_id, app_id, content, state, created_at)
      select gen_random_uuid(), u.id, ${dave.apps[0].id}, 'leak', 'active', now() from users u where u.user_id = 'carol'
      returning id::text as id`,
    )
    await d.close()

    const dirty = await runBin(['db', 'verify', '--json'], {env})
    expect(dirty.exitCode).toBe(1)
    const out = JSON.parse(dirty.stdout)
    expect(out.checks.find((c: {id: string}) => c.id === 'memories-app-of-other-user')).toMatchObject({
      count: 1,
      sample: [id],
    })
    expect(dirty.stderr.trim().split('\n')).toHaveLength(1)
  })
})
