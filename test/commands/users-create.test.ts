import {mkdtempSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import UsersCreate from '../../src/commands/users/create.js'
import UsersDelete from '../../src/commands/users/delete.js'
import UsersList from '../../src/commands/users/list.js'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {runBin, runCommand} from '../helpers/run.js'
import {count, serverAuthenticates} from '../helpers/server-rule.js'

// Command tests run against PostgreSQL through --database-url; the same
// commands on the embedded database are covered in e2e.test.ts.
describe('users create (command)', () => {
  let td: TestDatabase
  let url: string
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'om-cmd-'))
  beforeAll(async () => {
    td = await createTestDatabase('postgres', undefined, {migrated: true})
    url = td.url!
    const d = await td.open({migrate: true})
    await d.close()
  })
  afterAll(async () => td?.drop())
  beforeEach(async () => {
    const d = await td.open()
    const {resetTables} = await import('../helpers/databases.js')
    await resetTables(d)
    await d.close()
  })

  it('prints the key once on stdout and the warning on stderr', async () => {
    const r = await runCommand(UsersCreate, [
      'charlie',
      'Charlie Brown',
      'charlie@example.com',
      '--database-url',
      url,
    ])
    expect(r.exitCode).toBe(0)
    const key = /mem_lab_[a-z0-9]{32}/.exec(r.stdout)?.[0]
    expect(key).toBeDefined()
    expect(r.stdout.match(/mem_lab_/g)).toHaveLength(1)
    expect(r.stderr).toContain('cannot be recovered')
    expect(r.stderr).not.toContain('mem_lab_')
    const d = await td.open()
    expect(await serverAuthenticates(d, key!)).toBe('charlie')
    await d.close()
  })

  it('returns the documented JSON shape with --json', async () => {
    const r = await runCommand(UsersCreate, ['dana', '--json', '--database-url', url])
    expect(r.exitCode).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(Object.keys(out).sort()).toEqual(
      [
        'apiKey',
        'apps',
        'createdAt',
        'email',
        'id',
        'keyFile',
        'keyFingerprint',
        'mcpConfig',
        'name',
        'reusedIdDeletedAt',
        'userId',
        'startedAt',
        'durationMs',
      ].sort(),
    )
    expect(out).toMatchObject({userId: 'dana', name: 'Dana', email: null, apps: [{name: 'default'}]})
    expect(out.apiKey).toMatch(/^mem_lab_[a-z0-9]{32}$/)
    expect(new Date(out.createdAt).toISOString()).toBe(out.createdAt)
  })

  it('writes the key to a new 0600 file and prints no key', async () => {
    const file = path.join(tmp, 'erin.key')
    const r = await runCommand(UsersCreate, ['erin', '--key-file', file, '--database-url', url])
    expect(r.exitCode).toBe(0)
    expect(r.stdout + r.stderr).not.toMatch(/mem_lab_/)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const key = readFileSync(file, 'utf8').trim()
    const d = await td.open()
    expect(await serverAuthenticates(d, key)).toBe('erin')
    await d.close()
  })

  it('refuses to overwrite an existing key file and writes nothing', async () => {
    const file = path.join(tmp, 'exists.key')
    writeFileSync(file, 'keep me\n')
    const r = await runCommand(UsersCreate, ['fred', '--key-file', file, '--database-url', url])
    expect(r.exitCode).toBe(4)
    expect(readFileSync(file, 'utf8')).toBe('keep me\n')
    const d = await td.open()
    expect(await count(d, 'users')).toBe(0)
    await d.close()
  })

  // The server's register endpoint (api/app/routers/auth.py lines 107-120 @af5cf74e) answers
  // mcp_config = {"mcpServers": {"openmemory": {"command": "npx", "args": ["-y", "supergateway",
  // "--sse", "<api>/mcp/claude/sse", "--oauth2Bearer", api_key]}}}; its MCP endpoint is
  // GET /mcp/{client}/sse (api/app/mcp_server.py line 32 @1882743f).
  // The server's vector store keys memories by the userId string (memory_client.add(...,
  // user_id=current_user.user_id) and .search(..., user_id=...): api/app/routers/memories.py
  // lines 94-103 and 470-474 @65edc725), and this tool cannot reach it.
  it('refuses to hand a deleted id to someone else (exit 4) unless --reuse-deleted-id, which warns', async () => {
    expect((await runCommand(UsersCreate, ['olga', '--database-url', url])).exitCode).toBe(0)
    const del = await runCommand(UsersDelete, ['olga', '--yes', '--database-url', url])
    expect(del.exitCode).toBe(0)
    expect(del.stderr).toContain("keyed by user_id 'olga'")
    expect(del.stderr).toContain(
      'POST /collections/<collection>/points/delete {"filter":{"must":[{"key":"user_id","match":{"value":"olga"}}]}}',
    )
    const again = await runCommand(UsersCreate, ['olga', '--database-url', url])
    expect(again.exitCode).toBe(4)
    // The target line of the write, then one error line.
    expect(
      again.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('openmemory: writing to')),
    ).toHaveLength(1)
    expect(again.stderr).toContain("userId 'olga' belonged to a user this tool deleted")
    expect(again.stderr).toContain('--reuse-deleted-id')
    let d = await td.open()
    expect(await count(d, 'users')).toBe(0)
    await d.close()
    const reused = await runCommand(UsersCreate, ['olga', '--reuse-deleted-id', '--database-url', url])
    expect(reused.exitCode, reused.stderr).toBe(0)
    expect(reused.stderr).toContain("userId 'olga' belonged to a user this tool deleted")
    d = await td.open()
    expect(await count(d, 'users')).toBe(1)
    await d.close()
    const fresh = await runCommand(UsersCreate, ['pavel', '--json', '--database-url', url])
    expect(JSON.parse(fresh.stdout).reusedIdDeletedAt).toBeNull()
  })

  it('prints the server register endpoint mcpServers JSON with --mcp-config', async () => {
    const r = await runCommand(UsersCreate, [
      'gina',
      '--mcp-config',
      '--api-url',
      'https://mem.example.com/openmemory/',
      '--json',
      '--database-url',
      url,
    ])
    expect(r.exitCode, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.mcpConfig).toStrictEqual({
      mcpServers: {
        openmemory: {
          command: 'npx',
          args: [
            '-y',
            'supergateway',
            '--sse',
            'https://mem.example.com/openmemory/mcp/claude/sse',
            '--oauth2Bearer',
            out.apiKey,
          ],
        },
      },
    })
  })

  it('names the MCP client with --mcp-client, and prints the JSON in human mode too', async () => {
    const r = await runCommand(
      UsersCreate,
      ['hana', '--mcp-config', '--mcp-client', 'cursor', '--database-url', url],
      {
        OPENMEMORY_API_URL: 'http://10.0.0.5:8765',
      },
    )
    expect(r.exitCode, r.stderr).toBe(0)
    const json = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')))
    expect(json.mcpServers.openmemory.args.slice(0, 4)).toEqual([
      '-y',
      'supergateway',
      '--sse',
      'http://10.0.0.5:8765/mcp/cursor/sse',
    ])
    expect(r.stdout).not.toContain('openmemory-mcp')
  })

  it.each([
    [['--mcp-client', 'a/b'], /Invalid --mcp-client/],
    [['--api-url', 'ftp://x'], /--api-url must be/],
  ])('refuses --mcp-config with %j before writing', async (extra, message) => {
    const r = await runCommand(UsersCreate, ['iris', '--mcp-config', ...extra, '--database-url', url])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(message)
    const d = await td.open()
    expect(await count(d, 'users')).toBe(0)
    await d.close()
  })

  it.each([
    [['Bad_User'], /Invalid userId/],
    [['okuser', ''], /Invalid name/],
    [['okuser', 'Ok', 'nope'], /Invalid email/],
    [['okuser', '--key-length', '65'], /key-length|less than or equal/i],
  ])('exits 2 with one line for invalid input %j', async (argv, message) => {
    const r = await runCommand(UsersCreate, [...argv, '--database-url', url])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    const d = await td.open()
    expect(await count(d, 'users')).toBe(0)
    await d.close()
  })

  it('exits 4 for an existing userId or email', async () => {
    expect(
      (await runCommand(UsersCreate, ['henry', 'Henry', 'h@example.com', '--database-url', url])).exitCode,
    ).toBe(0)
    const again = await runCommand(UsersCreate, ['henry', '--database-url', url])
    expect(again.exitCode).toBe(4)
    expect(again.stderr).toContain("'henry' already exists")
    expect(
      (await runCommand(UsersCreate, ['henry2', 'H', 'H@EXAMPLE.COM', '--database-url', url])).exitCode,
    ).toBe(4)
  })

  it('exits 2 naming the missing userId when there is no terminal', async () => {
    const r = await runCommand(UsersCreate, ['--database-url', url])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/Missing userId/)
  })

  it('never takes a missing argument from stdin (a `while read` loop feeds every create)', async () => {
    // oclif alone fills a missing argument from stdin: the first create would take the rest of
    // the list as its display name, and a missing userId would come from the list too.
    const named = await runBin(['users', 'create', 'alice', '--json'], {
      env: {DATABASE_URL: url},
      input: 'bob\ncarol\n',
    })
    expect(named.exitCode).toBe(0)
    expect(JSON.parse(named.stdout)).toMatchObject({userId: 'alice', name: 'Alice', email: null})
    const missing = await runBin(['users', 'create'], {env: {DATABASE_URL: url}, input: 'bob\n'})
    expect(missing.exitCode).toBe(2)
    expect(missing.stderr).toMatch(/Missing userId/)
    const d = await td.open()
    expect(await count(d, 'users')).toBe(1)
    await d.close()
  })

  it('lists users as tab-separated text when piped, and JSON with --json', async () => {
    await runCommand(UsersCreate, ['ivan', 'Ivan', 'ivan@example.com', '--database-url', url])
    const plain = await runCommand(UsersList, ['--database-url', url])
    expect(plain.exitCode).toBe(0)
    const lines = plain.stdout.trim().split('\n')
    expect(lines[0].split('\t')).toEqual([
      'USER ID',
      'NAME',
      'EMAIL',
      'KEY',
      'MEMORIES',
      'APPS',
      'CREATED',
      'LAST ACTIVE',
    ])
    expect(lines[1].split('\t').slice(0, 6)).toEqual([
      'ivan',
      'Ivan',
      'ivan@example.com',
      'active',
      '0',
      'default',
    ])
    expect(plain.stdout).not.toContain(String.fromCharCode(27))
    const json = await runCommand(UsersList, ['--json', '--database-url', url])
    expect(JSON.parse(json.stdout)[0]).toMatchObject({
      userId: 'ivan',
      keyStatus: 'active',
      activeMemoryCount: 0,
    })
  })
})
