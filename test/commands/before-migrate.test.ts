/**
 * Before `db migrate` (issue 11, point 8): on a server database the tool has
 * not adopted yet, commands say to run `openmemory db migrate`, and `db status`
 * never says "Compatible: yes" without saying a migration is pending.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import DbMigrate from '../../src/commands/db/migrate.js'
import DbStatus from '../../src/commands/db/status.js'
import KeysList from '../../src/commands/keys/list.js'
import UsersList from '../../src/commands/users/list.js'
import UsersShow from '../../src/commands/users/show.js'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {runCommand} from '../helpers/run.js'
import {plantServerUser} from '../helpers/seed.js'

describe('a multi-user server database before db migrate', () => {
  let td: TestDatabase
  let url: string
  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser')
    url = td.url!
    const d = await td.open()
    try {
      await plantServerUser(d, 'alice')
    } finally {
      await d.close()
    }
  })
  afterAll(async () => td?.drop())

  it('commands that need the tool tables say to run openmemory db migrate', async () => {
    for (const [cmd, argv] of [
      [UsersList, []],
      [UsersShow, ['alice']],
      [KeysList, []],
    ] as const) {
      const r = await runCommand(cmd, [...argv, '--database-url', url])
      expect(r.exitCode, `${cmd.name}: ${r.stderr}`).toBe(1)
      const lines = r.stderr.trim().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain("has not been migrated for this tool yet: run 'openmemory db migrate'")
    }
  })

  it('db status says the migration is pending next to Compatible, and what the schema kind means', async () => {
    const r = await runCommand(DbStatus, ['--database-url', url])
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toMatch(
      /^Schema: {6}multi-user \(the multi-user server's schema, not yet adopted by this tool/m,
    )
    expect(r.stdout).toMatch(
      /^Compatible: {2}yes, once migrated: \d+ migration\(s\) pending; run 'openmemory db migrate'/m,
    )
    expect(r.stdout).not.toMatch(/^Compatible: {2}yes$/m)
    const json = JSON.parse((await runCommand(DbStatus, ['--json', '--database-url', url])).stdout)
    expect(json).toMatchObject({compatible: true, ready: false})
  })

  it('after db migrate: managed, explained, Compatible: yes, and the commands work', async () => {
    expect((await runCommand(DbMigrate, ['--database-url', url])).exitCode).toBe(0)
    const r = await runCommand(DbStatus, ['--database-url', url])
    expect(r.stdout).toMatch(/^Schema: {6}managed \(this tool's migrations have been applied/m)
    expect(r.stdout).toMatch(/^Compatible: {2}yes$/m)
    expect((await runCommand(UsersShow, ['alice', '--database-url', url])).exitCode).toBe(0)
  })
})
