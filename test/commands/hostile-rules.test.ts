/**
 * Issue 14 through the commands: input rules (bidi controls, U+FFFD,
 * --reason), keys on stdin (first line, at most 4 KiB) and `users delete`
 * naming and auditing the other users whose memories go with the user's apps.
 */
import {sql} from 'drizzle-orm'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import UsersCreate from '../../src/commands/users/create.js'
import UsersDeactivate from '../../src/commands/users/deactivate.js'
import UsersDelete from '../../src/commands/users/delete.js'
import type {Database} from '../../src/db/client.js'
import {rows} from '../../src/db/sql.js'
import {createUser} from '../../src/services/users.js'
import {testContext} from '../helpers/context.js'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {runBin, runCommand} from '../helpers/run.js'
import {seedMemories} from '../helpers/seed.js'

describe('hostile input and collateral (commands)', () => {
  let td: TestDatabase
  let database: Database
  let url: string
  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    database = await td.open({migrate: true})
    url = td.url!
  })
  afterAll(async () => {
    await database?.close()
    await td?.drop()
  })
  const users = async () =>
    Number((await rows<{n: number}>(database.db, sql`select count(*)::int as n from users`))[0]?.n)

  it.each([
    ['a right-to-left override in the name', ['bidi_name', 'Evil\u202eeman']],
    ['U+FFFD (invalid UTF-8) in the name', ['fffd_name', 'Bad\ufffdname']],
    ['a bidi isolate in the email', ['bidi_mail', 'Name', 'a\u2066b@example.com']],
    ['a right-to-left override in --app', ['bidi_app', '--app', 'app\u202e']],
  ])('users create refuses %s with exit 2 and writes nothing', async (_what, argv) => {
    const before = await users()
    const r = await runCommand(UsersCreate, [...argv, '--database-url', url])
    expect(r.exitCode).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).not.toMatch(/[\u202e\u2066]/)
    expect(await users()).toBe(before)
  })

  it('users deactivate refuses a --reason with ESC, a line break or over 200 characters (exit 2)', async () => {
    const {ctx} = testContext()
    await createUser(database.db, {userId: 'reason_user'}, ctx)
    for (const reason of ['fake\u001b[1A\u001b[2Kstatus: active', 'two\nlines', 'x'.repeat(201)]) {
      const r = await runCommand(UsersDeactivate, [
        'reason_user',
        '--reason',
        reason,
        '--yes',
        '--database-url',
        url,
      ])
      expect(r.exitCode).toBe(2)
      expect(r.stderr).toContain('--reason must be at most 200 characters')
      expect(r.stderr).not.toContain('\u001b[1A')
    }
    const ok = await runCommand(UsersDeactivate, [
      'reason_user',
      '--reason',
      'y'.repeat(200),
      '--yes',
      '--database-url',
      url,
    ])
    expect(ok.exitCode).toBe(0)
  })

  it('keys verify answers from the first line of stdin and refuses a first line over 4 KiB', async () => {
    const {ctx} = testContext()
    const created = await createUser(database.db, {userId: 'stdin_user'}, ctx)
    const env = {OPENMEMORY_DATABASE_URL: url, DATABASE_URL: undefined}
    // Many lines after the key: only the first is read.
    const many = `${created.apiKey}\n${`${created.apiKey}\n`.repeat(2000)}`
    const r = await runBin(['keys', 'verify'], {env, input: many})
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toContain('Valid: authenticates as stdin_user')
    const long = await runBin(['keys', 'verify'], {env, input: 'a'.repeat(5000)})
    expect(long.exitCode).toBe(2)
    expect(long.stderr).toContain('longer than 4096 bytes')
  })

  it('DEBUG=* never shows a --database-url password or a --key, and the command still uses them', async () => {
    const {ctx} = testContext()
    const created = await createUser(database.db, {userId: 'debug_user'}, ctx)
    // Trust authentication ignores the password; it must still never be printed.
    const withPassword = url.replace('postgres@', 'postgres:s3cretpw@')
    for (const argv of [
      ['keys', 'verify', '--key', created.apiKey, '--database-url', withPassword],
      ['keys', 'verify', `--key=${created.apiKey}`, `--database-url=${withPassword}`],
    ]) {
      const r = await runBin(argv, {
        env: {DEBUG: '*', DATABASE_URL: undefined, OPENMEMORY_DATABASE_URL: undefined},
      })
      expect(r.exitCode).toBe(0)
      expect(r.stdout).toContain('Valid: authenticates as debug_user')
      expect(r.stderr).toContain('oclif') // the debug output is there
      expect(r.stderr).toContain('postgres:***@')
      expect(r.stdout + r.stderr).not.toContain('s3cretpw')
      expect(r.stdout + r.stderr).not.toContain(created.apiKey)
    }
  })

  it("users delete names other users' memories in the user's apps, by owner, and audits each owner", async () => {
    const {ctx} = testContext()
    const alice = await createUser(database.db, {userId: 'del_alice'}, ctx)
    const bob = await createUser(database.db, {userId: 'del_bob'}, ctx)
    await seedMemories(database, alice.id, alice.apps[0].id, ['active'])
    // Cross-user rows: bob's memories written through alice's app.
    await seedMemories(database, bob.id, alice.apps[0].id, ['active', 'archived'])
    await seedMemories(database, bob.id, bob.apps[0].id, ['active'])

    const dry = await runCommand(UsersDelete, ['del_alice', '--dry-run', '--database-url', url])
    expect(dry.exitCode).toBe(0)
    expect(dry.stdout).toContain('Including 2 memories of 1 other user(s)')
    expect(dry.stdout).toMatch(/del_bob\s+2/)
    const json = await runCommand(UsersDelete, ['del_alice', '--dry-run', '--json', '--database-url', url])
    expect(JSON.parse(json.stdout).otherOwners).toEqual([
      {userId: 'del_bob', appOwner: 'del_alice', memoryCount: 2},
    ])

    const r = await runCommand(UsersDelete, ['del_alice', '--yes', '--json', '--database-url', url])
    expect(r.exitCode).toBe(0)
    const audit = await rows<{
      target_user_id: string
      outcome: string
      details: Record<string, unknown>
    }>(
      database.db,
      sql`select target_user_id, outcome, details from openmemory_admin.audit_log
          where command = 'users delete' and target_user_id in ('del_alice', 'del_bob') order by id`,
    )
    expect(audit.map((a) => [a.target_user_id, a.outcome])).toEqual([
      ['del_alice', 'deleted'],
      ['del_bob', 'changed'],
    ])
    expect(audit[1]?.details).toMatchObject({
      action: 'delete-collateral',
      deletedUser: 'del_alice',
      memoriesDeleted: 2,
    })
    // bob keeps his own memory in his own app.
    const left = await rows<{n: number}>(
      database.db,
      sql`select count(*)::int as n from memories where user_id = ${bob.id}`,
    )
    expect(left[0]?.n).toBe(1)
  })
})
