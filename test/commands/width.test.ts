/**
 * Human output at the terminal's width: every listing, detail view, dry run
 * and error of the built CLI, run on a pseudo-terminal (`script`) with COLUMNS
 * at 80 and 120, has no line wider than COLUMNS and cuts nothing (no `…`: a
 * table wraps its free text and leaves columns out, naming them). The views
 * whose text does not depend on the run (masked dates, fingerprints and ids)
 * are compared with golden files in test/golden/width/ (UPDATE_GOLDEN=1
 * rewrites them when a change of layout is intended).
 */
import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {sql} from 'drizzle-orm'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/client.js'
import {rows} from '../../src/db/sql.js'
import {displayWidth} from '../../src/ui/format.js'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {type FakeApiServer, startFakeApiServer} from '../helpers/fake-api-server.js'
import {BIN, runBin} from '../helpers/run.js'
import {addApp, seedMemories} from '../helpers/seed.js'

const GOLDEN = path.resolve(import.meta.dirname, '../golden/width')
const WIDTHS = [80, 120] as const

/**
 * Run the CLI on a pseudo-terminal (stdout and stderr both), as an operator sees
 * it. Asynchronous: the fake API server answers from this process.
 */
async function onTerminal(
  argv: string[],
  env: Record<string, string>,
): Promise<{text: string; status: number}> {
  const quoted = [process.execPath, BIN, ...argv].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
  const child = spawn('script', ['-qec', quoted, '/dev/null'], {
    env: {...process.env, ...env, NO_COLOR: '1', OPENMEMORY_NO_PROMPT: '1', TERM: 'xterm'},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let text = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const status = await new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)))
  clearTimeout(timer)
  return {text: text.replaceAll('\r', ''), status}
}

/** What changes from run to run, masked to the same width so the layout is what is compared. */
function masked(text: string): string {
  return text
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d UTC/g, '2026-01-01 00:00 UTC')
    .replace(
      /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g,
      'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx',
    )
    .replace(/\b[0-9a-f]{8}\b/g, 'ffffffff')
}

describe('human output fits the width (COLUMNS on a terminal)', () => {
  let td: TestDatabase
  let database: Database
  let server: FakeApiServer
  let env: Record<string, string>
  let danaKey: string
  const dir = mkdtempSync(path.join(os.tmpdir(), 'om-width-'))

  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    database = await td.open()
    env = {DATABASE_URL: td.url as string, OPENMEMORY_DATABASE_URL: ''}
    const csv = path.join(dir, 'team.csv')
    writeFileSync(
      csv,
      [
        'userId,name,email',
        'alice,Alice Liddell,alice@example.com',
        'bartholomew_roberts,Bartholomew Roberts-Featherstonehaugh the Third,bartholomew.roberts-featherstonehaugh@pirates.example.org',
        'bruce,李小龙 (Bruce Lee),bruce.lee@example.cn',
        'carol,Carol Danvers,carol@example.com',
        'dana,Dana Scully,dana.scully@fbi.example.gov',
        '',
      ].join('\n'),
    )
    const imported = await runBin(['users', 'import', csv, '--key-dir', path.join(dir, 'keys')], {env})
    expect(imported.exitCode, imported.stderr).toBe(0)
    danaKey = readFileSync(path.join(dir, 'keys', 'dana.key'), 'utf8').trim()
    for (const argv of [
      ['users', 'deactivate', 'bartholomew_roberts', '--yes', '--reason', 'left the crew for a life at sea'],
      ['keys', 'revoke', 'carol', '--yes'],
    ]) {
      const r = await runBin(argv, {env})
      expect(r.exitCode, r.stderr).toBe(0)
    }
    const [alice] = await rows<{id: string}>(
      database.db,
      sql`select id::text as id from users where user_id = 'alice'`,
    )
    const [app] = await rows<{id: string}>(
      database.db,
      sql`select id::text as id from apps where owner_id = ${alice.id} and name = 'default'`,
    )
    await seedMemories(database, alice.id, app.id, ['active', 'active', 'archived', 'deleted'])
    const other = await addApp(database, alice.id, 'claude-desktop-on-the-long-named-laptop')
    await seedMemories(database, alice.id, other, ['active'])
    server = await startFakeApiServer({[danaKey]: 'dana'})
  })

  afterAll(async () => {
    await server?.close()
    await database?.close()
    await td?.drop()
  })

  /** name → argv; golden: compared with test/golden/width/NAME.WIDTH.txt. */
  const VIEWS: {name: string; argv: () => string[]; golden?: boolean; status?: number}[] = [
    {name: 'users-list', argv: () => ['users', 'list'], golden: true},
    {name: 'keys-list', argv: () => ['keys', 'list'], golden: true},
    {name: 'memories-count', argv: () => ['memories', 'count', '--by-app'], golden: true},
    {name: 'users-show', argv: () => ['users', 'show', 'alice'], golden: true},
    {name: 'users-show-deactivated', argv: () => ['users', 'show', 'bartholomew_roberts'], golden: true},
    {name: 'db-verify', argv: () => ['db', 'verify'], golden: true},
    {name: 'audit-list', argv: () => ['audit', 'list']},
    {name: 'db-status', argv: () => ['db', 'status']},
    {name: 'users-test', argv: () => ['users', 'test', 'dana', '--api-url', server.url, '--key', danaKey]},
    {name: 'keys-rotate-dry-run', argv: () => ['keys', 'rotate', '--older-than', '0d', '--dry-run']},
    {name: 'users-delete-dry-run', argv: () => ['users', 'delete', 'alice', '--dry-run']},
    {name: 'users-deactivate-dry-run', argv: () => ['users', 'deactivate', 'alice', '--dry-run']},
    {name: 'prune-dry-run', argv: () => ['prune-inactive', '--days', '1', '--dry-run']},
    {
      name: 'import-dry-run',
      argv: () => [
        'users',
        'import',
        path.join(dir, 'team.csv'),
        '--dry-run',
        '--key-dir',
        path.join(dir, 'k2'),
      ],
      status: 2,
    },
    {name: 'not-found-error', argv: () => ['users', 'show', 'alicee'], status: 3},
  ]

  for (const width of WIDTHS) {
    for (const view of VIEWS) {
      it(`${view.name} at ${width} columns`, async () => {
        const {text, status} = await onTerminal(view.argv(), {...env, COLUMNS: String(width)})
        expect(status, text).toBe(view.status ?? 0)
        const lines = text.replace(/\n$/, '').split('\n')
        expect(lines.length, text).toBeGreaterThan(0)
        const wide = lines.filter((line) => displayWidth(line) > width)
        expect(wide, text).toEqual([])
        expect(text).not.toContain('…')
        if (!view.golden) return
        const file = path.join(GOLDEN, `${view.name}.${width}.txt`)
        if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
          mkdirSync(GOLDEN, {recursive: true})
          writeFileSync(file, masked(text))
        }
        expect(masked(text)).toBe(readFileSync(file, 'utf8'))
      })
    }
  }

  it('COLUMNS narrower than the terminal wins, and a table at 80 names the columns it leaves out', async () => {
    const at80 = (await onTerminal(['users', 'list'], {...env, COLUMNS: '80'})).text
    expect(at80).toMatch(/^Not shown at 80 columns: .*APPS/m)
    // States and dates are whole: never `revoked…` or `2026-12-…`.
    expect(at80).toMatch(/^bartholomew_roberts +\S.* revoked\n.* \(deactivated\)$/m)
    const audit80 = (await onTerminal(['audit', 'list'], {...env, COLUMNS: '80'})).text
    expect(audit80).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC +\S.* keys revoke +carol +changed$/m)
    const wide = (await onTerminal(['users', 'list'], {...env, COLUMNS: '300'})).text
    expect(wide).not.toContain('Not shown')
    expect(wide).toContain('bartholomew.roberts-featherstonehaugh@pirates.example.org')
  })
})
