import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import AuditList from '../../src/commands/audit/list.js'
import KeysList from '../../src/commands/keys/list.js'
import KeysRevoke from '../../src/commands/keys/revoke.js'
import KeysRotate from '../../src/commands/keys/rotate.js'
import MemoriesCount from '../../src/commands/memories/count.js'
import UsersCreate from '../../src/commands/users/create.js'
import UsersDeactivate from '../../src/commands/users/deactivate.js'
import UsersDelete from '../../src/commands/users/delete.js'
import UsersReactivate from '../../src/commands/users/reactivate.js'
import UsersShow from '../../src/commands/users/show.js'
import {createTestDatabase, resetTables, type TestDatabase} from '../helpers/databases.js'
import {runBin, runCommand} from '../helpers/run.js'
import {count, serverAuthenticates} from '../helpers/server-rule.js'

describe('lifecycle commands', () => {
  let td: TestDatabase
  let url: string
  const db = async <T>(fn: (d: Awaited<ReturnType<TestDatabase['open']>>) => Promise<T>) => {
    const d = await td.open()
    try {
      return await fn(d)
    } finally {
      await d.close()
    }
  }
  const create = async (userId: string) => {
    const r = await runCommand<{apiKey: string}>(UsersCreate, [userId, '--json', '--database-url', url])
    return JSON.parse(r.stdout) as {apiKey: string; id: string}
  }
  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    url = td.url!
    await db(async (d) => (await import('../../src/db/client.js')).runMigrations(d))
  })
  afterAll(async () => td?.drop())
  beforeEach(async () => db(resetTables))

  it('exits 3 naming the user and suggesting users list when not found', async () => {
    for (const cmd of [UsersShow, UsersDeactivate, UsersReactivate, KeysRotate, KeysRevoke]) {
      const r = await runCommand(cmd, ['nobody', '--database-url', url])
      expect(r.exitCode).toBe(3)
      // A write names its target first (for show, nothing but the error).
      const lines = r.stderr.trim().split('\n')
      expect(lines.at(-1)).toBe(
        "Error: User 'nobody' not found. Run 'openmemory users list' to see existing users.",
      )
      expect(lines.slice(0, -1).every((l) => l.startsWith('openmemory: writing to '))).toBe(true)
    }
    const del = await runCommand(UsersDelete, ['nobody', '--yes', '--database-url', url])
    expect(del.exitCode).toBe(3)
  })

  it('exits 2 for a userId that cannot be stored (control character)', async () => {
    const r = await runCommand(UsersShow, ['not\u0007valid', '--database-url', url])
    expect(r.exitCode).toBe(2)
  })

  it('users show heads every column with its own name (app ENABLED, memory states)', async () => {
    await create('alice')
    const r = await runCommand(UsersShow, ['alice', '--database-url', url])
    expect(r.exitCode).toBe(0)
    const header = r.stdout.split('\n').find((l) => /^\s*APP\b/.test(l))
    expect(header).toBeDefined()
    const names = header!.trim().split(/\t|\s{2,}/)
    expect(names).toEqual(['APP', 'ENABLED', 'ACTIVE', 'ARCHIVED', 'DELETED', 'TOTAL'])
    expect(new Set(names).size).toBe(names.length)
  })

  // The server checks the key when an MCP SSE session opens (api/app/mcp_server.py line 55
  // @1882743f) and not per message (line 142), so revoking cannot close an open session.
  it('revoke, rotate and deactivate say that an open MCP session keeps working until it reconnects', async () => {
    for (const [cmd, argv] of [
      [KeysRotate, ['alice', '--yes']],
      [KeysRevoke, ['alice', '--yes']],
      [UsersDeactivate, ['alice', '--yes']],
    ] as const) {
      await create('alice')
      const r = await runCommand(cmd, [...argv, '--database-url', url])
      expect(r.exitCode, r.stderr).toBe(0)
      expect(r.stderr).toContain('New logins and API requests with the old key are refused at once')
      expect(r.stderr).toContain(
        'an MCP client session already open (GET /mcp/<client>/sse) keeps working until the client reconnects',
      )
      const quiet = await runCommand(cmd, [...argv, '--json', '--database-url', url])
      expect(quiet.stderr).not.toContain('MCP client session')
      await db(resetTables)
    }
  })

  it('shows a user as JSON without the key', async () => {
    const u = await create('alice')
    const r = await runCommand(UsersShow, ['alice', '--json', '--database-url', url])
    expect(r.exitCode).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({userId: 'alice', key: {keyStatus: 'active', lastUsedAt: null}, memoryCount: 0})
    expect(r.stdout).not.toContain(u.apiKey)
  })

  it('deactivates and reactivates idempotently, saying when nothing changed', async () => {
    const u = await create('bob')
    expect(
      (await runCommand(UsersDeactivate, ['bob', '--reason', 'holiday', '--yes', '--database-url', url]))
        .exitCode,
    ).toBe(0)
    expect(await db((d) => serverAuthenticates(d, u.apiKey))).toBeNull()
    const again = await runCommand(UsersDeactivate, ['bob', '--database-url', url])
    expect(again.exitCode).toBe(0)
    expect(again.stdout).toContain('nothing changed')
    expect((await runCommand(UsersReactivate, ['bob', '--database-url', url])).exitCode).toBe(0)
    expect(await db((d) => serverAuthenticates(d, u.apiKey))).toBe('bob')
    expect((await runCommand(UsersReactivate, ['bob', '--database-url', url])).stdout).toContain(
      'nothing changed',
    )
  })

  it('refuses to rotate, revoke or deactivate without --yes when there is no terminal, changing nothing', async () => {
    const u = await create('ruth')
    for (const cmd of [KeysRotate, KeysRevoke, UsersDeactivate]) {
      const r = await runCommand(cmd, ['ruth', '--database-url', url])
      expect(r.exitCode).toBe(2)
      expect(r.stderr).toContain('--yes')
    }
    for (const cmd of [KeysRotate, KeysRevoke, UsersDeactivate]) {
      const r = await runCommand(cmd, ['ruth', '--dry-run', '--json', '--database-url', url])
      expect(r.exitCode).toBe(0)
      expect(JSON.parse(r.stdout)).toMatchObject({dryRun: true})
      expect(r.stdout).not.toContain('mem_lab_')
    }
    expect(await db((d) => serverAuthenticates(d, u.apiKey))).toBe('ruth')
    expect(await db((d) => count(d, 'openmemory_admin.audit_log'))).toBe(1)
  })

  it('refuses to delete without --yes when there is no terminal, deleting nothing', async () => {
    await create('carol')
    const r = await runCommand(UsersDelete, ['carol', '--database-url', url])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('--yes')
    expect(await db((d) => count(d, 'users'))).toBe(1)
  })

  it('prints per-table counts in a dry run and deletes with --yes', async () => {
    await create('dave')
    const dry = await runCommand(UsersDelete, ['dave', '--dry-run', '--json', '--database-url', url])
    expect(JSON.parse(dry.stdout)).toMatchObject({
      dryRun: true,
      rowsByTable: {users: 1, api_keys: 1, apps: 1},
    })
    expect(await db((d) => count(d, 'users'))).toBe(1)
    const del = await runCommand(UsersDelete, ['dave', '--yes', '--database-url', url])
    expect(del.exitCode).toBe(0)
    expect(await db((d) => count(d, 'users'))).toBe(0)
  })

  it('rotates a key: the old one stops working, the new one is printed once', async () => {
    const u = await create('erin')
    const r = await runCommand(KeysRotate, ['erin', '--yes', '--database-url', url])
    expect(r.exitCode).toBe(0)
    const key = /mem_lab_[a-z0-9]{32}/.exec(r.stdout)![0]
    expect(r.stdout.match(/mem_lab_/g)).toHaveLength(1)
    expect(await db((d) => serverAuthenticates(d, u.apiKey))).toBeNull()
    expect(await db((d) => serverAuthenticates(d, key))).toBe('erin')
  })

  it('revokes, lists keys by fingerprint, and audits every change', async () => {
    const u = await create('fred')
    expect((await runCommand(KeysRevoke, ['fred', '--yes', '--database-url', url])).exitCode).toBe(0)
    const list = JSON.parse((await runCommand(KeysList, ['--json', '--database-url', url])).stdout)
    expect(list).toEqual([expect.objectContaining({userId: 'fred', keyStatus: 'revoked'})])
    expect(JSON.stringify(list)).not.toContain(u.apiKey)
    const audit = JSON.parse(
      (await runCommand(AuditList, ['--user', 'fred', '--json', '--database-url', url])).stdout,
    )
    expect(audit.map((a: {command: string}) => a.command)).toEqual(['keys revoke', 'users create'])
    expect(JSON.stringify(audit)).not.toContain(u.apiKey)
    const bad = await runCommand(AuditList, ['--since', 'yesterday', '--database-url', url])
    expect(bad.exitCode).toBe(2)
  })

  it('counts memories with a totals row', async () => {
    await create('gina')
    const r = await runCommand(MemoriesCount, ['--database-url', url])
    const lines = r.stdout.trim().split('\n')
    expect(lines[0].split('\t')).toEqual(['USER ID', 'ACTIVE', 'ARCHIVED', 'DELETED', 'TOTAL'])
    expect(lines.at(-1)?.split('\t')[0]).toBe('TOTAL')
  })

  it('verifies a key read from stdin: exit 0 when valid, 1 when revoked or unknown', async () => {
    const u = await create('hank')
    const ok = await runBin(['keys', 'verify', '--json', '--database-url', url], {input: `${u.apiKey}\n`})
    expect(ok.exitCode).toBe(0)
    expect(JSON.parse(ok.stdout)).toMatchObject({valid: true, userId: 'hank'})
    expect(ok.stdout + ok.stderr).not.toContain(u.apiKey)
    const unknown = await runBin(['keys', 'verify', '--database-url', url], {input: 'mem_lab_nope00000000\n'})
    expect(unknown.exitCode).toBe(1)
    expect(unknown.stdout).toContain('no user has this key')
    await runCommand(KeysRevoke, ['hank', '--yes', '--database-url', url])
    const revoked = await runBin(['keys', 'verify', '--json', '--database-url', url], {input: u.apiKey})
    expect(revoked.exitCode).toBe(1)
    expect(JSON.parse(revoked.stdout)).toMatchObject({valid: false, reason: 'revoked', userId: 'hank'})
  })
})
