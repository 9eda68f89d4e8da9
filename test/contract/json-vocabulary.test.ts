/**
 * One JSON vocabulary (docs/json.md): every command is run with --json and
 * every key of what it prints (results, errors, the JSON lines on stderr) must
 * be a name of the vocabulary below, so a second name for the same thing
 * cannot creep back. `users list --format ui-profile` is the web UI's own
 * format and keeps the UI's field names; `mcpConfig` is the server's
 * register-endpoint shape (api/app/routers/auth.py) and is not walked.
 */
import {writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {COMMANDS} from '../../src/commands.js'
import {tempDir} from '../helpers/bulk.js'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {type FakeApiServer, startFakeApiServer} from '../helpers/fake-api-server.js'
import {runCommand} from '../helpers/run.js'

/** Every key a --json document may carry; docs/json.md gives each its one meaning. */
const VOCABULARY = new Set<string>([
  // who
  'id',
  'userId',
  'name',
  'email',
  'userIds',
  'createdUserIds',
  'skippedUserIds',
  'reusedUserIds',
  'closeMatches',
  'otherOwners',
  'appOwner',
  // keys
  'apiKey',
  'key',
  'keys',
  'keyFingerprint',
  'previousKeyFingerprint',
  'keyStatus',
  'keyFile',
  'keyRowCreated',
  'keyDeactivated',
  'keyReactivated',
  'valid',
  'reason',
  'mcpConfig',
  'destination',
  'kind',
  'path',
  'recipients',
  // apps
  'apps',
  'appName',
  'appNames',
  'appsDeactivated',
  'appsReactivated',
  'enabled',
  'byApp',
  // state and changes
  'deactivated',
  'deactivationReason',
  'changed',
  'dryRun',
  'cancelled',
  'mode',
  'days',
  'olderThan',
  // timestamps
  'createdAt',
  'updatedAt',
  'lastActiveAt',
  'lastUsedAt',
  'lastSeenAt',
  'deactivatedAt',
  'recordedAt',
  'cutoffAt',
  'reusedIdDeletedAt',
  'startedAt',
  'durationMs',
  // counts
  'memoryCount',
  'activeMemoryCount',
  'byState',
  'states',
  'rows',
  'totals',
  'rowCount',
  'incomplete',
  'listedCount',
  'rowsByTable',
  'matchedCount',
  'changedCount',
  'skippedCount',
  'createdCount',
  'rotatedCount',
  'problemCount',
  'errorCount',
  'noticeCount',
  'count',
  // the audit trail
  'osUser',
  'host',
  'command',
  'outcome',
  'details',
  // db status, db migrate, db verify
  'target',
  'source',
  'driver',
  'serverVersion',
  'schema',
  'schemaBefore',
  'schemaAfter',
  'memoryStates',
  'missing',
  'added',
  'applied',
  'appliedMigrations',
  'pendingMigrations',
  'ready',
  'compatible',
  'incompatibilities',
  'table',
  'column',
  'expected',
  'found',
  'indexSuggestions',
  'create',
  'usedBy',
  'clean',
  'strict',
  'checks',
  'description',
  'severity',
  'subject',
  'sample',
  // users test
  'apiUrl',
  'steps',
  'step',
  'request',
  'status',
  'httpStatus',
  'detail',
  'failedStep',
  // errors and the JSON lines on stderr
  'error',
  'code',
  'message',
  'exitCode',
  'suggestions',
  'committed',
  'problems',
  'problemCount',
  'line',
  'level',
  'event',
])

/** Objects whose keys are data (table names, memory states, stored audit details), not names. */
const OPAQUE = new Set(['mcpConfig', 'details', 'byState', 'rowsByTable'])

function keysOf(value: unknown, into: Map<string, string>, where: string): void {
  if (Array.isArray(value)) {
    for (const v of value) keysOf(v, into, where)
    return
  }
  if (value === null || typeof value !== 'object') return
  for (const [k, v] of Object.entries(value)) {
    if (!into.has(k)) into.set(k, where)
    if (!OPAQUE.has(k)) keysOf(v, into, `${where}.${k}`)
  }
}

/** The JSON documents a run printed: stdout whole, stderr line by line. */
function documents(stdout: string, stderr: string): unknown[] {
  const docs: unknown[] = []
  if (stdout.trim() !== '') docs.push(JSON.parse(stdout))
  for (const line of stderr.split('\n')) if (line.trim() !== '') docs.push(JSON.parse(line))
  return docs
}

describe('one JSON vocabulary', () => {
  let td: TestDatabase
  let tmp: string
  let api: FakeApiServer
  const seen = new Map<string, string>()
  const run = async (id: string, argv: string[], opts: {input?: string; exit?: number} = {}) => {
    const r = await runCommand(COMMANDS[id], [...argv, '--json', '--database-url', td.url!], {
      OPENMEMORY_API_URL: api.url,
    })
    expect(r.exitCode, `${id} ${argv.join(' ')}: ${r.stderr}`).toBe(opts.exit ?? 0)
    for (const doc of documents(r.stdout, r.stderr)) keysOf(doc, seen, `${id.replace(':', ' ')}`)
    return r
  }

  beforeAll(async () => {
    td = await createTestDatabase('postgres')
    tmp = tempDir()
    api = await startFakeApiServer({})
  })
  afterAll(async () => {
    await api?.close()
    await td?.drop()
  })

  it('every key every command prints is in the vocabulary', async () => {
    await run('db:migrate', [])
    await run('db:status', [])
    const created = await run('users:create', ['alice', 'Alice A', 'alice@example.com'])
    const aliceKey = (JSON.parse(created.stdout) as {apiKey: string}).apiKey
    await run('users:create', ['bob', '--key-file', path.join(tmp, 'bob.key')])
    await run('users:create', ['carol', '--mcp-config'])
    await run('users:list', [])
    await run('users:show', ['alice'])
    await run('users:show', ['nobody'], {exit: 3})
    await run('users:create', ['alice'], {exit: 4})
    await run('users:deactivate', ['bob', '--dry-run'])
    await run('users:deactivate', ['bob', '--yes', '--reason', 'left'])
    await run('users:show', ['bob'])
    await run('users:reactivate', ['bob'])
    await run('keys:list', [])
    await run('keys:verify', ['--key', aliceKey])
    await run('keys:rotate', ['bob', '--dry-run'])
    await run('keys:rotate', ['bob', '--yes'])
    await run('keys:revoke', ['carol', '--dry-run'])
    await run('keys:revoke', ['carol', '--yes'])
    await run('keys:rotate', ['--older-than', '0d', '--dry-run'])
    await run('keys:rotate', ['--older-than', '0d', '--yes', '--keys-out', path.join(tmp, 'rotated.csv')])
    await run('memories:count', [])
    await run('memories:count', ['alice', '--by-app'])
    const csv = path.join(tmp, 'team.csv')
    writeFileSync(csv, 'userId,name,email\ndave,Dave,\nerin,Erin,erin@example.com\n')
    await run('users:import', [csv, '--dry-run'])
    await run('users:import', [csv, '--keys-out', path.join(tmp, 'team-keys.csv')])
    await run('users:test', ['alice', '--key', aliceKey], {exit: 1})
    await run('users:delete', ['dave', '--dry-run'])
    await run('users:delete', ['dave', '--yes'])
    await run('prune-inactive', ['--days', '1', '--dry-run'])
    await run('prune-inactive', ['--days', '1', '--yes'])
    await run('db:verify', []) // a key revoked by the tool is no finding
    await run('audit:list', [])

    const unknown = [...seen].filter(([k]) => !VOCABULARY.has(k)).map(([k, where]) => `${k} (${where})`)
    expect(unknown).toEqual([])
  })
})
