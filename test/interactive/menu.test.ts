/**
 * The interactive session's flows, driven key by key through the real
 * prompts (fake terminal streams) against PostgreSQL.
 */
import {mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {sql} from 'drizzle-orm'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi} from 'vitest'
import type {Database} from '../../src/db/client.js'
import {runMigrations} from '../../src/db/client.js'
import {InterruptedError} from '../../src/errors.js'
import {heldConnection, runMenu} from '../../src/interactive/menu.js'
import {defaultContext} from '../../src/services/context.js'
import {deleteUser} from '../../src/services/lifecycle.js'
import {createUser} from '../../src/services/users.js'
import {MESSAGES} from '../../src/services/validation.js'
import {MCP_SESSION_NOTE} from '../../src/ui/render.js'
import {KEY_WARNING} from '../../src/ui/secrets.js'
import {createTestDatabase, resetTables, type TestDatabase} from '../helpers/databases.js'
import {count, serverAuthenticates} from '../helpers/server-rule.js'
import {fakeTerminal, KEYS, type Terminal} from './harness.js'

const KEY_PAUSE = 'press Enter to return to the menu'

describe('interactive menu', () => {
  let td: TestDatabase
  let database: Database
  let term: Terminal
  let out: string[]
  let err: string[]
  let at: number
  let stderrWrites: string[]
  const dir = mkdtempSync(path.join(os.tmpdir(), 'om-menu-'))

  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    database = await td.open()
    await runMigrations(database)
  })
  afterAll(async () => {
    await database?.close()
    await td?.drop()
    rmSync(dir, {recursive: true, force: true})
  })
  beforeEach(async () => {
    await resetTables(database)
    term = fakeTerminal()
    out = []
    err = []
    at = 0
    stderrWrites = []
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderrWrites.push(chunk.toString())
      return true
    })
  })
  afterEach(() => {
    term.close()
    vi.restoreAllMocks()
  })

  const start = () => {
    const session = runMenu({
      connection: heldConnection(database),
      log: (l) => out.push(l),
      warn: (l) => err.push(l),
    })
    session.catch(() => {}) // awaited by the test; never an unhandled rejection meanwhile
    return session
  }
  /** Wait for `text` on the screen after the last step, then press keys. */
  const step = async (text: string | RegExp, ...keys: string[]) => {
    at = await term.waitFor(text, {after: at})
    at += 1
    await term.type(...keys)
  }
  /** Choose a menu entry by typing its name (select jumps to it), then Enter. */
  const menu = (name: string) => step('What do you want to do?', name.toLowerCase(), KEYS.enter)
  const quit = () => menu('Quit')
  const seed = (userId: string) => createUser(database.db, {userId}, defaultContext('test'))

  it('shows the target with the password masked, and every action', async () => {
    const session = start()
    await term.waitFor('Quit')
    for (const entry of [
      'Create user',
      'List users',
      'Show user',
      'Deactivate user',
      'Reactivate user',
      'Rotate key',
      'Revoke key',
      'Delete user',
      'Count memories',
      'Prune inactive users',
      'Database status',
      'Quit',
    ]) {
      expect(term.screen()).toContain(entry)
    }
    await quit()
    await session
    expect(err[0]).toBe(`openmemory: ${database.target.display} (from ${database.target.source})`)
  })

  it('creates a user, refusing invalid input with the flag messages, and shows the key once with the warning', async () => {
    const session = start()
    await menu('Create user')
    await step('userId', 'Bad id', KEYS.enter)
    await step(MESSAGES.userId, ...Array(6).fill(KEYS.backspace), 'dora', KEYS.enter)
    await step('Display name', KEYS.enter) // default: Dora
    await step('Email', 'not-an-email', KEYS.enter)
    await step(MESSAGES.email, ...Array(12).fill(KEYS.backspace), 'dora@example.com', KEYS.enter)
    await step('Where should the new key go?', KEYS.enter)
    // The key stays on screen until Enter: the menu does not come back before.
    at = await term.waitFor(KEY_PAUSE, {after: at})
    await new Promise((r) => setTimeout(r, 300))
    expect(term.screen().slice(at)).not.toContain('What do you want to do?')
    at += 1
    await term.type(KEYS.enter)
    await quit()
    await session
    expect(out).toContain("Created user dora (Dora <dora@example.com>) with app 'default'.")
    const key = out.find((l) => l.startsWith('API key: '))?.slice('API key: '.length)
    expect(key).toMatch(/^mem_lab_[a-z0-9]{32}$/)
    expect(err.join('\n')).toContain(KEY_WARNING)
    expect(err.join('\n')).not.toContain(key)
    expect(await serverAuthenticates(database, key!)).toBe('dora')
    expect(await count(database, 'apps')).toBe(1)
  })

  it('refuses a display name over 50 characters with the flag message', async () => {
    const session = start()
    await menu('Create user')
    await step('userId', 'erin', KEYS.enter)
    await step('Display name', 'x'.repeat(51), KEYS.enter)
    await step(MESSAGES.name, KEYS.ctrlC)
    await expect(session).rejects.toBeInstanceOf(InterruptedError)
    expect(await count(database, 'users')).toBe(0)
  })

  it('writes the new key to a 0600 file instead of the screen', async () => {
    const file = path.join(dir, 'fay.key')
    const session = start()
    await menu('Create user')
    await step('userId', 'fay', KEYS.enter)
    await step('Display name', KEYS.enter)
    await step('Email', KEYS.enter)
    await step('Where should the new key go?', KEYS.down, KEYS.enter)
    await step('Key file path', file, KEYS.enter)
    await quit()
    await session
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const key = readFileSync(file, 'utf8').trim()
    expect(await serverAuthenticates(database, key)).toBe('fay')
    expect(out.join('\n')).not.toContain(key)
  })

  it('refuses a key-file path at its prompt (missing directory, existing file), keeping what was typed', async () => {
    const missing = path.join(dir, 'no-such-dir', 'gil.key')
    const taken = path.join(dir, 'taken.key')
    writeFileSync(taken, 'x')
    const file = path.join(dir, 'gil.key')
    const session = start()
    await menu('Create user')
    await step('userId', 'gil', KEYS.enter)
    await step('Display name', KEYS.enter)
    await step('Email', KEYS.enter)
    await step('Where should the new key go?', KEYS.down, KEYS.enter)
    await step('Key file path', missing, KEYS.enter)
    // Still at the path question, the path kept: erase it and type another.
    await step(/no-such-dir\s+does\s+not\s+exist/, ...Array(missing.length).fill(KEYS.backspace))
    await term.type(taken, KEYS.enter)
    await step(
      /already\s+exists;\s+it\s+is\s+never\s+overwritten/,
      ...Array(taken.length).fill(KEYS.backspace),
    )
    expect(await count(database, 'users')).toBe(0)
    await term.type(file, KEYS.enter)
    await quit()
    await session
    expect(await serverAuthenticates(database, readFileSync(file, 'utf8').trim())).toBe('gil')
  })

  it('picks a user from a list filtered as one types, then shows them', async () => {
    for (const u of ['alice', 'alfred', 'bob']) await seed(u)
    const session = start()
    await menu('Show user')
    await step('User (type to filter)', 'alf')
    // Enter once the list for the whole filter has loaded (earlier keystrokes' lists may still be in flight).
    await step(/filter\) alf\s*\n❯ alfred/, KEYS.enter)
    await quit()
    await session
    expect(out.join('\n')).toMatch(/^alfred {2}Alfred/m)
  })

  it('cancels a delete at the confirmation (default No): nothing changes', async () => {
    await seed('gus')
    const session = start()
    await menu('Delete user')
    await step('User (type to filter)', 'gus')
    // Enter once the list for the whole filter has loaded (earlier keystrokes' lists may still be in flight).
    await step(/filter\) gus\s*\n❯ gus/, KEYS.enter)
    await step('Delete user gus and 2 related rows? This cannot be undone. (y/N)', KEYS.enter)
    await quit()
    await session
    expect(out).toContain('Will delete:')
    expect(out).toContain('Cancelled; nothing deleted.')
    expect(await count(database, 'users')).toBe(1)
    expect(await count(database, 'api_keys')).toBe(1)
  })

  it('deletes after showing the rows and a yes', async () => {
    await seed('hal')
    const session = start()
    await menu('Delete user')
    await step('User (type to filter)', 'hal')
    // Enter once the list for the whole filter has loaded (earlier keystrokes' lists may still be in flight).
    await step(/filter\) hal\s*\n❯ hal/, KEYS.enter)
    await step('(y/N)', 'y', KEYS.enter)
    await quit()
    await session
    expect(out).toContain('Deleted user hal (3 rows).')
    expect(err.some((l) => l.startsWith("The server's vector store (mem0 on Qdrant) still holds"))).toBe(true)
    expect(await count(database, 'users')).toBe(0)
  })

  it("deactivates after showing what will be switched off, with the command's note, and reactivates", async () => {
    const {apiKey} = await seed('ida')
    const session = start()
    await menu('Deactivate user')
    await step('User (type to filter)', 'ida')
    // Enter once the list for the whole filter has loaded (earlier keystrokes' lists may still be in flight).
    await step(/filter\) ida\s*\n❯ ida/, KEYS.enter)
    await step('Reason', 'left', KEYS.enter)
    await step('Deactivate ida, switching off key, apps default?', 'y', KEYS.enter)
    await term.waitFor('What do you want to do?', {after: at})
    // No dry run was asked for: nothing says "dry run".
    expect(out.join('\n')).not.toContain('dry run')
    expect(out).toContain(
      "Deactivated ida: key, apps default switched off. Undo with 'openmemory users reactivate ida'.",
    )
    expect(err).toContain(MCP_SESSION_NOTE)
    expect(await serverAuthenticates(database, apiKey)).toBeNull()
    await menu('Reactivate user')
    await step('User (type to filter)', 'ida')
    await step('(deactivated)', KEYS.enter)
    await quit()
    await session
    expect(out).toContain('Reactivated ida: key, apps default restored.')
    expect(await serverAuthenticates(database, apiKey)).toBe('ida')
  })

  it('rotates a key only after a yes; the old key stops working', async () => {
    const {apiKey} = await seed('joe')
    const session = start()
    await menu('Rotate key')
    await step('User (type to filter)', 'joe')
    // Enter once the list for the whole filter has loaded (earlier keystrokes' lists may still be in flight).
    await step(/filter\) joe\s*\n❯ joe/, KEYS.enter)
    await step('Where should the new key go?', KEYS.enter)
    await step('Replace the key of joe? The current key (', 'y', KEYS.enter)
    await step(KEY_PAUSE, KEYS.enter)
    await quit()
    await session
    expect(out.some((l) => l.startsWith('Rotated the key of joe (old key '))).toBe(true)
    expect(err).toContain(MCP_SESSION_NOTE)
    const key = out.find((l) => l.startsWith('API key: '))?.slice('API key: '.length)
    expect(await serverAuthenticates(database, apiKey)).toBeNull()
    expect(await serverAuthenticates(database, key!)).toBe('joe')
  })

  it('prunes: names who would change before asking, and a No changes nothing', async () => {
    await seed('kim')
    await seed('lee')
    await database.db.execute(
      sql`update users set last_active = now() - interval '200 days', created_at = now() - interval '300 days' where user_id = 'kim'`,
    )
    const session = start()
    await menu('Prune inactive users')
    await step('Inactive for at least how many days?', KEYS.enter) // 90
    await step('Then', KEYS.enter) // deactivate
    await step('Deactivate 1 user(s) with no activity for 90 days', KEYS.enter)
    await quit()
    await session
    expect(out).toContain('  kim')
    expect(out).not.toContain('  lee')
    expect(out).toContain('Cancelled; nothing changed.')
    expect(await count(database, 'openmemory_admin.deactivations')).toBe(0)
  })

  it('refuses prune days the command refuses (over 36500), with the rule', async () => {
    const session = start()
    await menu('Prune inactive users')
    await step('Inactive for at least how many days?', ...Array(2).fill(KEYS.backspace), '999999', KEYS.enter)
    await step('days must be a whole number from 1 to 36500', KEYS.ctrlC)
    await expect(session).rejects.toBeInstanceOf(InterruptedError)
  })

  it('refuses a deleted userId as the command does, and reuses it when asked', async () => {
    await seed('nia')
    await deleteUser(database.db, 'nia', {}, defaultContext('users delete'))
    const session = start()
    await menu('Create user')
    await step('userId', 'nia', KEYS.enter)
    await step('Display name', KEYS.enter)
    await step('Email', KEYS.enter)
    await step('belonged to a user this tool deleted', KEYS.enter) // No
    await step('Where should the new key go?', KEYS.enter)
    await term.waitFor('What do you want to do?', {after: at})
    expect(err.some((l) => l.includes("userId 'nia' belonged to a user this tool deleted"))).toBe(true)
    expect(await count(database, 'users')).toBe(0)

    await menu('Create user')
    await step('userId', 'nia', KEYS.enter)
    await step('Display name', KEYS.enter)
    await step('Email', KEYS.enter)
    await step('belonged to a user this tool deleted', 'y', KEYS.enter)
    await step('Where should the new key go?', KEYS.enter)
    await step(KEY_PAUSE, KEYS.enter)
    await quit()
    await session
    expect(out).toContain("Created user nia (Nia) with app 'default'.")
    expect(err.some((l) => l.includes('Warning:') && l.includes("userId 'nia' belonged"))).toBe(true)
    expect(await count(database, 'users')).toBe(1)
  })

  it('says so and returns to the menu when there are no users to pick', async () => {
    const session = start()
    await menu('Show user')
    await quit()
    await session
    expect(err.some((l) => l.includes('There are no users yet'))).toBe(true)
  })

  it('refuses a taken userId and a used email at their prompts, keeping what was typed', async () => {
    await createUser(database.db, {userId: 'max', email: 'max@example.com'}, defaultContext('test'))
    const session = start()
    await menu('Create user')
    await step('userId', 'max', KEYS.enter)
    // Refused at the prompt (not after every question), the typed value still there to correct.
    await step("User 'max' already exists", KEYS.backspace, KEYS.backspace, 'ia', KEYS.enter)
    await step('Display name', KEYS.enter)
    await step('Email', 'MAX@example.com', KEYS.enter)
    await step(
      "Email MAX@example.com is already used by user 'max'",
      ...Array(15).fill(KEYS.backspace),
      'mia@example.com',
      KEYS.enter,
    )
    await step('Where should the new key go?', KEYS.enter)
    await step(KEY_PAUSE, KEYS.enter)
    await quit()
    await session
    expect(out).toContain("Created user mia (Mia <mia@example.com>) with app 'default'.")
    expect(await count(database, 'users')).toBe(2)
  })

  it('Esc goes back one question (its answer offered again), and from the first back to the menu', async () => {
    const session = start()
    await menu('Create user')
    await step('userId', 'ned', KEYS.enter)
    await step('Display name', KEYS.escape)
    // Back at userId with "ned" as the default: Enter keeps it.
    await step(/userId \(ned\)/, KEYS.enter)
    await step('Display name', KEYS.escape)
    await step(/userId \(ned\)/, KEYS.escape)
    // From the first question: the menu again, nothing written, the session still running.
    await step('What do you want to do?', KEYS.ctrlC)
    await expect(session).rejects.toBeInstanceOf(InterruptedError)
    expect(await count(database, 'users')).toBe(0)
  })

  it('leaves with InterruptedError on Ctrl-C at the menu', async () => {
    const session = start()
    await step('What do you want to do?', KEYS.ctrlC)
    await expect(session).rejects.toBeInstanceOf(InterruptedError)
  })
})
