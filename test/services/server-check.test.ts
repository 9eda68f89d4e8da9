import {sql} from 'drizzle-orm'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/client.js'
import {rows} from '../../src/db/sql.js'
import {UserNotFoundError, ValidationError} from '../../src/errors.js'
import {fingerprint, hashKey} from '../../src/services/keys.js'
import {
  checkServer,
  parseApiUrl,
  type ServerCheckDeps,
  type ServerCheckInput,
  testUser,
} from '../../src/services/server-check.js'
import {createUser} from '../../src/services/users.js'
import {testContext} from '../helpers/context.js'
import {createTestDatabase, DRIVERS, resetTables, type TestDatabase} from '../helpers/databases.js'
import {type FakeApiServer, startFakeApiServer, unusedUrl} from '../helpers/fake-api-server.js'
import {CREATE_REPLIES, LOGIN_REPLIES, SEARCH_REPLIES, SUCCESS_REPLIES} from '../helpers/server-replies.js'

const KEY = 'mem_lab_abcdefghijklmnopqrstuvwxyz012345'
const OTHER_KEY = 'mem_lab_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz'

/** Exact timings: the clock advances 5 ms at every reading. */
function deps(): ServerCheckDeps {
  let t = 1000
  return {
    fetch: globalThis.fetch,
    clock: () => {
      t += 5
      return t
    },
    now: () => new Date('2026-06-01T12:00:00.000Z'),
  }
}

describe('checkServer (the HTTP steps)', () => {
  let api: FakeApiServer
  const input = (over: Partial<ServerCheckInput> = {}): ServerCheckInput => ({
    userId: 'charlie',
    key: KEY,
    apiUrl: api.url,
    write: true,
    timeoutMs: 2000,
    ...over,
  })
  beforeAll(async () => {
    api = await startFakeApiServer({[KEY]: 'charlie', [OTHER_KEY]: 'dana'})
  })
  afterAll(async () => api.close())
  beforeEach(() => {
    api.requests.length = 0
    for (const e of ['login', 'create', 'search'] as const) api.set(e, undefined)
    api.reply('create', 'ok')
    api.reply('search', 'vectorSearch')
  })

  describe('replays every reply the real server gives (test/helpers/server-replies.ts)', () => {
    it.each([
      ['vectorSearch', '1 result (vector_search)'],
      ['databaseSearch', '1 result (database_search)'],
      ['mem0Plain', '1 result'],
      ['notAvailable', '0 results (Search not available)'],
    ] as const)('search %s passes: %s', async (name, detail) => {
      expect(SUCCESS_REPLIES.search).toContain(name)
      api.reply('search', name)
      const r = await checkServer(input(), deps())
      expect(SEARCH_REPLIES[name].source).toMatch(/^api\/app\/routers\/memories\.py:\d+-\d+ @[0-9a-f]{8}/)
      expect(r.outcome).toBe('passed')
      expect(r.steps[2]).toMatchObject({status: 'passed', httpStatus: 200, detail})
    })

    it.each(SUCCESS_REPLIES.create)('create %s passes with the memory id', async (name) => {
      api.reply('create', name)
      const r = await checkServer(input(), deps())
      expect(r.outcome).toBe('passed')
      expect(r.steps[1].detail).toBe(`created memory ${(CREATE_REPLIES[name].body as {id: string}).id}`)
    })

    it('login: the 401 body of a refused key', async () => {
      const r = await checkServer(input({key: 'mem_lab_unknown0000000000000000000000'}), deps())
      expect(LOGIN_REPLIES.invalidKey.body).toEqual({detail: 'Invalid API key'})
      expect(r.steps[0].detail).toBe(
        'expected 200, answered 401 (the server does not accept this key): Invalid API key',
      )
    })

    it('create and search: the 500 bodies, detail quoted', async () => {
      api.set('create', 'error-500')
      let r = await checkServer(input(), deps())
      expect(r.steps[1].detail).toBe(
        `expected 200, answered 500 (server error: see the server logs): ${(CREATE_REPLIES.failed.body as {detail: string}).detail}`,
      )
      api.set('create', undefined)
      api.set('search', 'error-500')
      r = await checkServer(input(), deps())
      expect(r.steps[2].detail).toBe(
        'expected 200, answered 500 (server error: see the server logs): Failed to search memories: connection to server was lost',
      )
    })

    it('answers a request without query or api_key with FastAPI 422 bodies', async () => {
      const response = await fetch(`${api.url}/api/v1/memories/search`, {
        method: 'POST',
        headers: {authorization: `Bearer ${KEY}`},
      })
      expect(response.status).toBe(422)
      expect(await response.json()).toEqual(SEARCH_REPLIES.missingQuery.body)
      const login = await fetch(`${api.url}/api/v1/auth/login`, {method: 'POST', body: '{}'})
      expect(await login.json()).toEqual(LOGIN_REPLIES.missingKey.body)
    })

    it('a Bearer key the server does not know: 401 Authentication required (require_user)', async () => {
      const response = await fetch(`${api.url}/api/v1/memories/`, {
        method: 'POST',
        headers: {authorization: 'Bearer mem_lab_nobody', 'content-type': 'application/json'},
        body: JSON.stringify({text: 'x'}),
      })
      expect(response.status).toBe(401)
      expect(await response.json()).toEqual(CREATE_REPLIES.unauthenticated.body)
    })
  })

  it('passes login, memory creation and search with statuses and exact times', async () => {
    const r = await checkServer(input(), deps())
    expect(r.outcome).toBe('passed')
    expect(r.failedStep).toBeNull()
    expect(r.keyFingerprint).toBe(fingerprint(hashKey(KEY)))
    expect(r.steps.map((s) => [s.step, s.status, s.httpStatus, s.durationMs])).toEqual([
      ['login', 'passed', 200, 5],
      ['create-memory', 'passed', 200, 5],
      ['search', 'passed', 200, 5],
    ])
    expect(r.steps[0].detail).toBe('logged in as charlie')
    expect(r.steps[1].detail).toMatch(/^created memory [0-9a-f-]{36}$/)
    expect(r.steps[2].detail).toBe('1 result (vector_search)')
  })

  it('sends exactly the documented requests', async () => {
    await checkServer(input(), deps())
    expect(api.requests).toEqual([
      {
        method: 'POST',
        url: '/api/v1/auth/login',
        authorization: undefined,
        contentType: 'application/json',
        body: {api_key: KEY},
      },
      {
        method: 'POST',
        url: '/api/v1/memories/',
        authorization: `Bearer ${KEY}`,
        contentType: 'application/json',
        body: {text: 'openmemory users test: connectivity check for charlie at 2026-06-01T12:00:00.000Z'},
      },
      {
        method: 'POST',
        url: '/api/v1/memories/search?query=openmemory%20users%20test',
        authorization: `Bearer ${KEY}`,
        contentType: 'application/json',
        body: {},
      },
    ])
  })

  it('keeps a base path and drops trailing slashes of the API URL', async () => {
    expect(parseApiUrl('https://mem.example.com/openmemory/')).toBe('https://mem.example.com/openmemory')
    expect(parseApiUrl(' http://localhost:8765 ')).toBe('http://localhost:8765')
  })

  it.each([
    'ftp://example.com',
    'not a url',
    'http://admin:pw@example.com',
  ])('rejects the API URL %s', (url) => {
    expect(() => parseApiUrl(url)).toThrow(ValidationError)
  })

  it('skips memory creation with write: false', async () => {
    const r = await checkServer(input({write: false}), deps())
    expect(r.outcome).toBe('passed')
    expect(r.steps.map((s) => [s.step, s.status])).toEqual([
      ['login', 'passed'],
      ['create-memory', 'skipped'],
      ['search', 'passed'],
    ])
    expect(api.requests.map((q) => q.url)).toEqual([
      '/api/v1/auth/login',
      '/api/v1/memories/search?query=openmemory%20users%20test',
    ])
  })

  it('fails at login with 401 for a key the server does not accept, and stops there', async () => {
    const r = await checkServer(input({key: 'mem_lab_notakeyatall000000000000000000'}), deps())
    expect(r.outcome).toBe('failed')
    expect(r.failedStep).toBe('login')
    expect(r.steps[0]).toMatchObject({status: 'failed', httpStatus: 401})
    expect(r.steps[0].detail).toBe(
      'expected 200, answered 401 (the server does not accept this key): Invalid API key',
    )
    expect(r.steps.slice(1).map((s) => s.status)).toEqual(['skipped', 'skipped'])
    expect(api.requests).toHaveLength(1)
  })

  it('fails at login when the server logs the key in as another user', async () => {
    api.set('login', 'wrong-user')
    const r = await checkServer(input(), deps())
    expect(r.failedStep).toBe('login')
    expect(r.steps[0].detail).toBe("logged in as 'somebody_else', not 'charlie'")
  })

  it('fails at create-memory on a 500 and does not search', async () => {
    api.set('create', 'error-500')
    const r = await checkServer(input(), deps())
    expect(r.outcome).toBe('failed')
    expect(r.failedStep).toBe('create-memory')
    expect(r.steps[1]).toMatchObject({status: 'failed', httpStatus: 500})
    expect(r.steps[1].detail).toContain('answered 500 (server error')
    expect(r.steps[2]).toMatchObject({status: 'skipped', detail: 'not run: the create-memory step failed'})
    expect(api.requests).toHaveLength(2)
  })

  it('fails at create-memory when the answer has no id', async () => {
    api.set('create', 'no-id')
    const r = await checkServer(input(), deps())
    expect(r.failedStep).toBe('create-memory')
    expect(r.steps[1]).toMatchObject({httpStatus: 200, detail: 'answered 200 without a memory id'})
  })

  it('fails at search when the answer has no results list', async () => {
    api.set('search', 'no-results')
    const r = await checkServer(input(), deps())
    expect(r.failedStep).toBe('search')
    expect(r.steps[2]).toMatchObject({httpStatus: 200, detail: 'answered 200 without a results list'})
  })

  it('reports a non-JSON error page by its text', async () => {
    api.set('login', 'not-json')
    const r = await checkServer(input(), deps())
    expect(r.steps[0]).toMatchObject({httpStatus: 502})
    expect(r.steps[0].detail).toContain('502 Bad Gateway')
  })

  it('never puts the key in a result, even when the server echoes it', async () => {
    api.set('login', 'echo-key')
    const r = await checkServer(input(), deps())
    expect(r.steps[0].detail).toBe(
      'expected 200, answered 401 (the server does not accept this key): Invalid API key ***',
    )
    expect(JSON.stringify(r)).not.toContain(KEY)
    expect(JSON.stringify(r)).not.toContain(KEY.slice(8))
  })

  it('counts a server that never answers the first request as unreachable, within the timeout', async () => {
    api.set('login', 'hang')
    // Bounded by the 0.3 s timeout: without it this call would never return (the fake hangs).
    const r = await checkServer(input({timeoutMs: 300}), deps())
    expect(r.outcome).toBe('unreachable')
    expect(r.failedStep).toBe('login')
    expect(r.steps[0]).toMatchObject({
      status: 'failed',
      httpStatus: null,
      detail: 'no answer within 0.3 s (--timeout)',
    })
  })

  it('fails (not unreachable) when a later request times out after the server answered', async () => {
    api.set('search', 'hang')
    const r = await checkServer(input({timeoutMs: 300}), deps())
    expect(r.outcome).toBe('failed')
    expect(r.failedStep).toBe('search')
    expect(r.steps[2].detail).toBe('no answer within 0.3 s (--timeout)')
  })

  it('counts a refused connection as unreachable', async () => {
    const r = await checkServer(input({apiUrl: await unusedUrl()}), deps())
    expect(r.outcome).toBe('unreachable')
    expect(r.steps[0].detail).toMatch(/^connection refused/)
  })
})

describe.each(DRIVERS)('testUser (database step, then HTTP) on %s', (driver) => {
  let td: TestDatabase
  let database: Database
  let api: FakeApiServer
  let charlieKey: string
  let danaKey: string
  beforeAll(async () => {
    td = await createTestDatabase(driver, 'multiuser', {migrated: true})
    database = await td.open({migrate: true})
  })
  afterAll(async () => {
    await api?.close()
    await database?.close()
    await td?.drop()
  })
  beforeEach(async () => {
    await api?.close()
    await resetTables(database)
    charlieKey = (await createUser(database.db, {userId: 'charlie'}, testContext().ctx)).apiKey
    danaKey = (await createUser(database.db, {userId: 'dana'}, testContext().ctx)).apiKey
    api = await startFakeApiServer({[charlieKey]: 'charlie', [danaKey]: 'dana'})
  })
  const input = (over: Partial<ServerCheckInput> = {}): ServerCheckInput => ({
    userId: 'charlie',
    key: charlieKey,
    apiUrl: api.url,
    write: true,
    timeoutMs: 2000,
    ...over,
  })

  it('checks the key in the database first, then every request', async () => {
    const r = await testUser(database.db, input(), deps())
    expect(r.outcome).toBe('passed')
    expect(r.steps.map((s) => [s.step, s.request, s.status, s.httpStatus, s.durationMs])).toEqual([
      ['key', 'database', 'passed', null, 5],
      ['login', 'POST /api/v1/auth/login', 'passed', 200, 5],
      ['create-memory', 'POST /api/v1/memories/', 'passed', 200, 5],
      ['search', 'POST /api/v1/memories/search', 'passed', 200, 5],
    ])
    expect(r.steps[0].detail).toBe(`key ${fingerprint(hashKey(charlieKey))} is active and belongs to charlie`)
    expect(JSON.stringify(r)).not.toContain(charlieKey)
  })

  it('stops before any request when the key is revoked', async () => {
    await database.db.execute(sql`update api_keys set is_active = false`)
    const r = await testUser(database.db, input(), deps())
    expect(r.outcome).toBe('failed')
    expect(r.failedStep).toBe('key')
    expect(r.steps[0].detail).toMatch(/of charlie is revoked/)
    expect(r.steps.slice(1).map((s) => s.status)).toEqual(['skipped', 'skipped', 'skipped'])
    expect(api.requests).toHaveLength(0)
  })

  it("stops before any request when the key is another user's", async () => {
    const r = await testUser(database.db, input({key: danaKey}), deps())
    expect(r.failedStep).toBe('key')
    expect(r.steps[0].detail).toBe("the key belongs to user 'dana', not 'charlie'")
    expect(api.requests).toHaveLength(0)
  })

  it('stops before any request when the key is not stored at all', async () => {
    const r = await testUser(database.db, input({key: 'mem_lab_unknownunknownunknown0000000'}), deps())
    expect(r.failedStep).toBe('key')
    expect(r.steps[0].detail).toMatch(/^no API key with fingerprint [0-9a-f]{8} is stored/)
    expect(api.requests).toHaveLength(0)
  })

  it('throws UserNotFoundError for an unknown userId', async () => {
    await expect(testUser(database.db, input({userId: 'nobody'}), deps())).rejects.toBeInstanceOf(
      UserNotFoundError,
    )
    expect(api.requests).toHaveLength(0)
  })

  it('reads without writing: the database is unchanged by a test', async () => {
    const before = await rows(database.db, sql`select * from api_keys order by id`)
    const users = await rows(database.db, sql`select * from users order by id`)
    await testUser(database.db, input(), deps())
    expect(await rows(database.db, sql`select * from api_keys order by id`)).toEqual(before)
    expect(await rows(database.db, sql`select * from users order by id`)).toEqual(users)
  })
})
