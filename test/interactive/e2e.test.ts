/**
 * Interactive mode end to end: the built bin/run.js in a tmux pseudo-terminal
 * against PostgreSQL, checked in the database afterwards.
 */
import {mkdtempSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {sql} from 'drizzle-orm'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {type Database, runMigrations} from '../../src/db/client.js'
import {rows} from '../../src/db/sql.js'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {runBin} from '../helpers/run.js'
import {count, serverAuthenticates} from '../helpers/server-rule.js'
import {TmuxSession} from './tmux.js'

describe('interactive mode in a terminal (built binary, tmux)', () => {
  let td: TestDatabase
  let database: Database
  const sessions: TmuxSession[] = []
  const open = (args: string[] = [], size: {columns?: number; rows?: number} = {}) => {
    const s = new TmuxSession(
      {
        DATABASE_URL: td.url!.replace('postgres@', 'postgres:e2epass@'),
        NO_COLOR: '1',
        OPENMEMORY_DATABASE_URL: '',
      },
      args,
      size,
    )
    sessions.push(s)
    return s
  }

  /** Whether the database holds a user with this userId. */
  const hasUser = async (userId: string) =>
    (await rows(database.db, sql`select 1 from users where user_id = ${userId}`)).length === 1
  /** A menu at 80x24 at the first question of Create user. */
  const atCreate = async () => {
    const t = open([], {columns: 80, rows: 24})
    await t.waitFor('What do you want to do?')
    t.press('Enter') // Create user
    await t.waitFor('userId')
    return t
  }

  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    database = await td.open()
    await runMigrations(database)
  })
  afterEach(() => {
    for (const s of sessions.splice(0)) s.kill()
  })
  afterAll(async () => {
    await database?.close()
    await td?.drop()
  })

  it('creates a user through the menu; the key it shows authenticates by the server rule', async () => {
    const t = open()
    await t.waitFor('What do you want to do?')
    // The target, password masked (trust auth ignores the password).
    expect(t.screen()).toContain(
      `openmemory: ${td.url!.replace('postgres@', 'postgres:***@')} (from DATABASE_URL)`,
    )
    expect(t.screen()).not.toContain('e2epass')
    t.press('Enter') // Create user
    await t.waitFor('userId')
    t.type('nina')
    t.press('Enter')
    await t.waitFor('Display name')
    t.type('Nina Simone')
    t.press('Enter')
    await t.waitFor('Email')
    t.type('nina@example.com')
    t.press('Enter')
    await t.waitFor('Where should the new key go?')
    t.press('Enter') // on screen
    await t.waitFor('API key: mem_lab_')
    const key = t.screen().match(/API key: (mem_lab_[a-z0-9]{32})/)![1]
    await t.waitFor('This key is shown once and cannot be recovered')
    await t.waitFor('press Enter to return to the menu')
    t.press('Enter')
    await t.waitFor('What do you want to do?', {times: 2})
    t.type('q')
    t.press('Enter')
    await t.waitFor('EXIT=0')

    const [row] = await rows<{
      user_id: string
      name: string
      email: string
      apps: number
      keys: number
    }>(
      database.db,
      sql`
        select u.user_id, u.name, u.email,
          (select count(*)::int from apps a where a.owner_id = u.id and a.name = 'default') as apps,
          (select count(*)::int from api_keys k where k.user_id = u.id and k.is_active) as keys
        from users u where u.user_id = 'nina'`,
    )
    expect(row).toMatchObject({
      user_id: 'nina',
      name: 'Nina Simone',
      email: 'nina@example.com',
      apps: 1,
      keys: 1,
    })
    expect(await serverAuthenticates(database, key)).toBe('nina')
  })

  it('at 80x24: a taken userId is refused at its prompt with the input kept; a new key waits for Enter', async () => {
    expect((await runBin(['users', 'create', 'taken_id'], {env: {DATABASE_URL: td.url}})).exitCode).toBe(0)
    const t = await atCreate()
    t.type('X')
    t.press('Enter')
    await t.waitFor('a new userId must be 3 to 20 characters')
    await new Promise((r) => setTimeout(r, 300))
    // The rule's message once, beside the value (it was also repeated below it).
    expect(t.screen().split('a new userId must be 3 to 20 characters').length - 1).toBe(1)
    t.press('BSpace')
    t.type('taken_id')
    t.press('Enter')
    await t.waitFor("User 'taken_id' already exists")
    // Still at the userId prompt, with what was typed: no other question was asked.
    expect(t.screen()).toMatch(/userId taken_id/)
    // Shown once, beside the value, not repeated below it.
    expect(t.screen().split("User 'taken_id' already exists").length - 1).toBe(1)
    expect(t.screen()).not.toContain('Display name')
    t.press('BSpace', 'BSpace')
    t.type('ok')
    t.press('Enter')
    await t.waitFor('Display name')
    t.press('Enter')
    await t.waitFor('Email')
    t.press('Enter')
    await t.waitFor('Where should the new key go?')
    t.press('Enter')
    await t.waitFor('press Enter to return to the menu')
    await new Promise((r) => setTimeout(r, 500))
    // The key is shown and the menu has not come back to scroll it away.
    const shown = t.screen()
    expect(shown).toMatch(/API key: mem_lab_[a-z0-9]{32}/)
    expect(shown.slice(shown.indexOf('API key:'))).not.toContain('What do you want to do?')
    t.press('Enter')
    await t.waitFor('What do you want to do?', {times: 2})
    t.type('q')
    t.press('Enter')
    await t.waitFor('EXIT=0')
    expect(await hasUser('taken_ok')).toBe(true)
  })

  it('at 80x24: List users comes in pages of the screen, the header on each; Esc stops', async () => {
    const csv = [
      'userId,name,email',
      ...Array.from({length: 45}, (_, i) => `pg_${String(i).padStart(2, '0')},P,`),
    ]
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'om-pages-')), 'u.csv')
    writeFileSync(file, `${csv.join('\n')}\n`)
    const imported = await runBin(['users', 'import', file, '--keys-out', `${file}.keys`], {
      env: {DATABASE_URL: td.url},
    })
    expect(imported.exitCode, imported.stderr).toBe(0)
    const t = open([], {columns: 80, rows: 24})
    await t.waitFor('What do you want to do?')
    t.type('list')
    t.press('Enter')
    await t.waitFor('Enter for more, Esc to stop.')
    // The visible screen holds the header and the page; nothing scrolled off the top.
    const first = t.visible()
    expect(first).toContain('USER ID')
    expect(first).toMatch(/pg_00/)
    expect(first).not.toMatch(/pg_44/)
    const shownFirst = /(\d+) of \d+ users/.exec(first)?.[1]
    expect(shownFirst).toBeDefined()
    t.press('Enter')
    // The next page's question (the answered one is erased): a different count.
    await t.waitUntil('the second page', () => {
      const shown = /(\d+) of \d+ users/.exec(t.visible())?.[1]
      return shown !== undefined && shown !== shownFirst
    })
    const second = t.visible()
    expect(second).toContain('USER ID')
    expect(second).not.toMatch(/pg_00/)
    t.press('Escape')
    await t.waitFor('What do you want to do?', {times: 2})
    t.press('C-c')
    await t.waitFor('EXIT=130')
  })

  it('cancelling at a delete confirmation changes nothing', async () => {
    const created = await runBin(['users', 'create', 'oscar', '--json'], {env: {DATABASE_URL: td.url}})
    expect(created.exitCode).toBe(0)
    const before = {
      users: await count(database, 'users'),
      keys: await count(database, 'api_keys'),
      apps: await count(database, 'apps'),
    }
    const t = open()
    await t.waitFor('What do you want to do?')
    t.type('delete')
    t.press('Enter')
    await t.waitFor('User (type to filter)')
    t.type('osc')
    await t.waitFor('oscar')
    t.press('Enter')
    await t.waitFor('This cannot be undone. (y/N)')
    t.press('Enter') // default No
    await t.waitFor('Cancelled; nothing deleted.')
    await t.waitFor('What do you want to do?', {times: 2})
    t.press('C-c')
    await t.waitFor('EXIT=130')
    expect(t.screen()).not.toMatch(/at .*\.js:\d+/) // no stack trace
    expect({
      users: await count(database, 'users'),
      keys: await count(database, 'api_keys'),
      apps: await count(database, 'apps'),
    }).toEqual(before)
    expect(await serverAuthenticates(database, JSON.parse(created.stdout).apiKey)).toBe('oscar')
  })

  it('Esc at the first question goes back to the menu; Ctrl-C then leaves with 130, nothing written', async () => {
    const t = await atCreate()
    t.type('pat')
    t.press('Escape')
    await t.waitFor('What do you want to do?', {times: 2})
    // The abandoned prompt is erased, not left on screen as if answered.
    expect(t.screen()).not.toContain('userId pat')
    t.press('C-c')
    await t.waitFor('EXIT=130')
    expect(await hasUser('pat')).toBe(false)
  })

  it('at 80x24: Ctrl-C while typing leaves with 130 and a clean screen: no half-typed answer shown as accepted', async () => {
    const t = await atCreate()
    t.type('rita')
    t.press('Enter')
    await t.waitFor('Display name')
    t.type('half_typed')
    await t.waitFor('half_typed')
    t.press('C-c')
    await t.waitFor('EXIT=130')
    const screen = t.screen()
    // Answered questions stay as answered; the cancelled one is erased (it stayed as
    // "? Display name half_typed ✓", looking accepted).
    expect(screen).toContain('✔ userId rita')
    expect(screen).not.toContain('half_typed')
    expect(screen).not.toMatch(/^\? /m)
    expect(await hasUser('rita')).toBe(false)
  })

  it('a lifecycle command missing its userId offers the searchable list', async () => {
    await runBin(['users', 'create', 'quinn'], {env: {DATABASE_URL: td.url}})
    const t = open(['users', 'show'])
    await t.waitFor('User (type to filter)')
    t.type('qui')
    // The list is filtered once the other users are gone from below the typed filter (quinn is
    // in the unfiltered list too, so seeing quinn alone does not mean the filter applied).
    await t.waitUntil('the list filtered to quinn', (screen) => {
      const below = screen.slice(screen.lastIndexOf('User (type to filter) qui'))
      return below.includes('quinn') && !below.includes('nina')
    })
    t.press('Enter')
    await t.waitFor('fingerprint')
    await t.waitFor('EXIT=0')
    // The detail shown after the pick is quinn's, and the run succeeded.
    const screen = t.screen()
    expect(screen.slice(screen.lastIndexOf('User (type to filter)'))).toMatch(
      /quinn[\s\S]*fingerprint[\s\S]*EXIT=0/,
    )
  })

  it('off a terminal, no arguments prints the help and exits 0', async () => {
    const r = await runBin([], {env: {DATABASE_URL: 'postgres://nobody@127.0.0.1:1/x'}})
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toContain('USAGE')
    expect(r.stdout).toContain('$ openmemory [COMMAND]')
  })
})

describe('interactive mode on the embedded database (built binary, tmux)', () => {
  const sessions: TmuxSession[] = []
  afterEach(() => {
    for (const s of sessions.splice(0)) s.kill()
  })

  it('a menu waiting for a choice holds no lock: another command runs at once, and the menu sees its work', async () => {
    const dataDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'om-idle-menu-')), 'data')
    const env = {OPENMEMORY_DATA_DIR: dataDir, DATABASE_URL: '', OPENMEMORY_DATABASE_URL: ''}
    expect((await runBin(['db', 'migrate'], {env})).exitCode).toBe(0)
    const t = new TmuxSession({...env, NO_COLOR: '1'}, [], {columns: 80, rows: 24})
    sessions.push(t)
    await t.waitFor('What do you want to do?')
    // Before: the menu held the database for the whole session; this waited 15 s and exited 75.
    const other = await runBin(['users', 'create', 'idle_ok', '--json'], {env})
    expect(other.exitCode, other.stderr).toBe(0)
    // The menu opens the database again for its next action, and sees the new user.
    t.type('list')
    t.press('Enter')
    await t.waitFor('idle_ok')
    t.type('quit')
    t.press('Enter')
    await t.waitFor('EXIT=0')
  })
  it('at 80x24, an action waiting at a question holds no lock either: the prompt checks and the picker open the database briefly', async () => {
    const dataDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'om-idle-prompt-')), 'data')
    const env = {OPENMEMORY_DATA_DIR: dataDir, DATABASE_URL: '', OPENMEMORY_DATABASE_URL: ''}
    expect((await runBin(['db', 'migrate'], {env})).exitCode).toBe(0)
    const t = new TmuxSession({...env, NO_COLOR: '1'}, [], {columns: 80, rows: 24})
    sessions.push(t)
    await t.waitFor('What do you want to do?')
    t.press('Enter') // Create user
    await t.waitFor('userId')
    // Before: the action held the database across its questions; this waited 15 s and exited 75.
    const started = Date.now()
    const other = await runBin(['users', 'create', 'made_beside', '--json'], {env})
    expect(other.exitCode, other.stderr).toBe(0)
    expect(Date.now() - started).toBeLessThan(10_000)
    // The check on Enter opens the database and sees the user just made.
    t.type('made_beside')
    t.press('Enter')
    await t.waitFor("User 'made_beside' already exists")
    t.press('Escape')
    await t.waitFor('What do you want to do?', {times: 2})
    t.type('show')
    t.press('Enter')
    await t.waitFor('User (type to filter)')
    // The picker has listed the users, and then let the database go while the operator reads.
    await t.waitFor('made_beside')
    await new Promise((r) => setTimeout(r, 2_500))
    const again = await runBin(['users', 'create', 'made_during_pick', '--json'], {env})
    expect(again.exitCode, again.stderr).toBe(0)
    t.type('made_during')
    await t.waitFor('made_during_pick')
    t.press('Enter')
    await t.waitFor('fingerprint')
    await t.waitFor('What do you want to do?', {times: 3})
    t.type('quit')
    t.press('Enter')
    await t.waitFor('EXIT=0')
  })
})
