import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import UsersTest from '../../src/commands/users/test.js'
import {createUser} from '../../src/services/users.js'
import {testContext} from '../helpers/context.js'
import {
  copyEmbeddedTemplate,
  createTestDatabase,
  resetTables,
  type TestDatabase,
} from '../helpers/databases.js'
import {type FakeApiServer, startFakeApiServer, unusedUrl} from '../helpers/fake-api-server.js'
import {runBin, runCommand} from '../helpers/run.js'

// Command tests run against PostgreSQL through --database-url and a local
// stand-in for the API server; the built binary runs on the embedded database.
describe('users test (command)', () => {
  let td: TestDatabase
  let url: string
  let api: FakeApiServer
  let charlieKey: string
  let danaKey: string
  beforeAll(async () => {
    td = await createTestDatabase('postgres', undefined, {migrated: true})
    url = td.url!
    const d = await td.open({migrate: true})
    await d.close()
  })
  afterAll(async () => {
    await api?.close()
    await td?.drop()
  })
  beforeEach(async () => {
    await api?.close()
    const d = await td.open()
    await resetTables(d)
    charlieKey = (await createUser(d.db, {userId: 'charlie'}, testContext().ctx)).apiKey
    danaKey = (await createUser(d.db, {userId: 'dana'}, testContext().ctx)).apiKey
    await d.close()
    api = await startFakeApiServer({[charlieKey]: 'charlie', [danaKey]: 'dana'})
  })
  const run = (argv: string[], env: Record<string, string | undefined> = {}) =>
    runCommand<unknown>(UsersTest, [...argv, '--database-url', url], {OPENMEMORY_API_URL: undefined, ...env})

  it('exits 0 and prints one line per step with status and time, never the key', async () => {
    const r = await run(['charlie', '--key', charlieKey, '--api-url', api.url])
    expect(r.exitCode).toBe(0)
    const lines = r.stdout.trim().split('\n')
    expect(lines[0]).toMatch(new RegExp(`^Testing charlie \\(key [0-9a-f]{8}\\) against ${api.url}$`))
    expect(lines.slice(1)).toHaveLength(4)
    expect(lines[1]).toMatch(
      /^ok {4}key +database +- +\d+ ms +key [0-9a-f]{8} is active and belongs to charlie$/,
    )
    expect(lines[2]).toMatch(/^ok {4}login +POST \/api\/v1\/auth\/login +200 +\d+ ms +logged in as charlie$/)
    expect(lines[3]).toMatch(/^ok {4}create-memory +POST \/api\/v1\/memories\/ +200 +\d+ ms +created memory /)
    expect(lines[4]).toMatch(
      /^ok {4}search +POST \/api\/v1\/memories\/search +200 +\d+ ms +1 result \(vector_search\)$/,
    )
    expect(r.stdout + r.stderr).not.toContain(charlieKey)
    expect(r.stdout + r.stderr).not.toContain(charlieKey.slice(8))
  })

  it('takes the API URL from OPENMEMORY_API_URL', async () => {
    const r = await run(['charlie', '--key', charlieKey], {OPENMEMORY_API_URL: api.url})
    expect(r.exitCode).toBe(0)
    expect(api.requests).toHaveLength(3)
  })

  it('--no-write skips memory creation', async () => {
    const r = await run(['charlie', '--key', charlieKey, '--api-url', api.url, '--no-write'])
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toMatch(/skip +create-memory .*skipped \(--no-write\)/)
    expect(api.requests.map((q) => q.url)).not.toContain('/api/v1/memories/')
  })

  it('gives the steps as data with --json', async () => {
    const r = await run(['charlie', '--key', charlieKey, '--api-url', api.url, '--json'])
    expect(r.exitCode).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(Object.keys(out).sort()).toEqual(
      [
        'apiUrl',
        'durationMs',
        'failedStep',
        'keyFingerprint',
        'outcome',
        'startedAt',
        'steps',
        'userId',
      ].sort(),
    )
    expect(out).toMatchObject({userId: 'charlie', outcome: 'passed', failedStep: null, apiUrl: api.url})
    expect(out.steps.map((s: {step: string; httpStatus: number | null}) => [s.step, s.httpStatus])).toEqual([
      ['key', null],
      ['login', 200],
      ['create-memory', 200],
      ['search', 200],
    ])
    for (const s of out.steps)
      expect(Object.keys(s).sort()).toEqual(
        ['detail', 'durationMs', 'httpStatus', 'request', 'status', 'step'].sort(),
      )
    expect(r.stdout).not.toContain(charlieKey)
  })

  it("exits 1 naming the database step when the key is another user's, sending nothing", async () => {
    const r = await run(['charlie', '--key', danaKey, '--api-url', api.url])
    expect(r.exitCode).toBe(1)
    expect(r.stderr.trim()).toBe(
      "Error: Step 'key' (database) failed: the key belongs to user 'dana', not 'charlie'.",
    )
    expect(api.requests).toHaveLength(0)
    expect(r.stdout + r.stderr).not.toContain(danaKey)
  })

  it('exits 1 naming the login step on a 401', async () => {
    await api.close()
    api = await startFakeApiServer({[danaKey]: 'dana'}) // the server does not know charlie's key
    const r = await run(['charlie', '--key', charlieKey, '--api-url', api.url])
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(/FAIL {2}login +POST \/api\/v1\/auth\/login +401/)
    expect(r.stderr).toContain("Step 'login' (POST /api/v1/auth/login) failed: expected 200, answered 401")
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('exits 1 naming memory creation on a 500, with the steps and the error in --json', async () => {
    api.set('create', 'error-500')
    const r = await run(['charlie', '--key', charlieKey, '--api-url', api.url, '--json'])
    expect(r.exitCode).toBe(1)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({
      outcome: 'failed',
      failedStep: 'create-memory',
      error: {code: 'CHECK_FAILED', exitCode: 1},
    })
    expect(out.steps[2]).toMatchObject({step: 'create-memory', status: 'failed', httpStatus: 500})
    expect(out.error.message).toContain("Step 'create-memory'")
  })

  it('exits 5 when the server never answers, within --timeout', async () => {
    api.set('login', 'hang')
    // The fake never answers: the run returns only because --timeout bounds it.
    const r = await run(['charlie', '--key', charlieKey, '--api-url', api.url, '--timeout', '1'])
    expect(r.exitCode).toBe(5)
    expect(r.stderr).toContain(`Cannot reach the OpenMemory server at ${api.url}`)
    expect(r.stderr).toContain('no answer within 1 s')
  })

  it('exits 5 when nothing listens on the port', async () => {
    const down = await unusedUrl()
    const r = await run(['charlie', '--key', charlieKey, '--api-url', down, '--json'])
    expect(r.exitCode).toBe(5)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({outcome: 'unreachable', error: {code: 'SERVER_UNREACHABLE', exitCode: 5}})
    expect(out.error.message).toContain('connection refused')
  })

  it('exits 3 for an unknown user and 2 for an empty key or a bad URL', async () => {
    expect((await run(['nobody', '--key', charlieKey, '--api-url', api.url])).exitCode).toBe(3)
    const empty = await run(['charlie', '--key', '  ', '--api-url', api.url])
    expect(empty.exitCode).toBe(2)
    expect(empty.stderr).toContain('Missing key')
    expect((await run(['charlie', '--key', charlieKey, '--api-url', 'ftp://x'])).exitCode).toBe(2)
    expect(api.requests).toHaveLength(0)
  })
})

describe('users test (built binary)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'om-e2e-test-'))
  const env = {
    OPENMEMORY_DATA_DIR: copyEmbeddedTemplate(path.join(dir, 'pgdata'), {migrated: true}),
    DATABASE_URL: undefined,
    OPENMEMORY_DATABASE_URL: undefined,
    OPENMEMORY_API_URL: undefined,
  }
  let api: FakeApiServer | undefined
  afterAll(async () => {
    await api?.close()
    rmSync(dir, {recursive: true, force: true})
  })

  it('reads the key from stdin and passes every step, then exits 5 against a closed port', async () => {
    const created = await runBin(['users', 'create', 'erin', '--json'], {env})
    expect(created.exitCode).toBe(0)
    const key = JSON.parse(created.stdout).apiKey as string
    api = await startFakeApiServer({[key]: 'erin'})
    const ok = await runBin(['users', 'test', 'erin', '--api-url', api.url], {env, input: `${key}\n`})
    expect(ok.stderr).toBe('')
    expect(ok.exitCode).toBe(0)
    expect(ok.stdout.trim().split('\n')).toHaveLength(5)
    expect(ok.stdout + ok.stderr).not.toContain(key)
    expect(api.requests[0].body).toEqual({api_key: key})

    const down = await runBin(['users', 'test', 'erin', '--api-url', await unusedUrl()], {env, input: key})
    expect(down.exitCode).toBe(5)
    expect(down.stderr.trim().split('\n')).toHaveLength(1)
    expect(down.stdout + down.stderr).not.toContain(key)
  })

  it('exits 2 when no key is piped', async () => {
    const r = await runBin(['users', 'test', 'erin'], {env, input: ''})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('Missing key')
  })
})
