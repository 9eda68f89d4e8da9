/**
 * Flags that parse themselves (src/flags.ts), through the command classes: a
 * refused value is exit 2 and one line, before the database is opened, with
 * nothing written; `m` is months for every duration; flag relationships are
 * oclif's (dependsOn, relationships), not checks in run().
 */
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {Parser} from '@oclif/core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import KeysList from '../../src/commands/keys/list.js'
import KeysRotate, {type KeysRotatePolicyResult} from '../../src/commands/keys/rotate.js'
import PruneInactive from '../../src/commands/prune-inactive.js'
import UsersCreate from '../../src/commands/users/create.js'
import UsersList from '../../src/commands/users/list.js'
import {COMMANDS} from '../../src/commands.js'
import {FlagValueError} from '../../src/errors.js'
import {waitFlag} from '../../src/flags.js'
import {parseOlderThan} from '../../src/services/duration.js'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {runCommand} from '../helpers/run.js'
import {count} from '../helpers/server-rule.js'

describe('flags that parse themselves (PostgreSQL)', () => {
  let td: TestDatabase
  let url: string
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'om-flags-'))
  beforeAll(async () => {
    td = await createTestDatabase('postgres', undefined, {migrated: true})
    url = td.url!
    await (await td.open({migrate: true})).close()
  })
  afterAll(async () => {
    rmSync(tmp, {recursive: true, force: true})
    await td?.drop()
  })
  async function users(): Promise<number> {
    const d = await td.open()
    try {
      return await count(d, 'users')
    } finally {
      await d.close()
    }
  }

  it('--lock-timeout 2m is refused: exit 2, one line saying m means months and to write 2min, nothing written', async () => {
    const before = await users()
    const r = await runCommand(UsersCreate, ['alice', '--lock-timeout', '2m', '--database-url', url])
    expect(r.exitCode).toBe(2)
    expect(r.stdout).toBe('')
    // One line: no "Parsing --lock-timeout" or "See more help" from oclif, no target line (nothing opened).
    expect(r.stderr.trim().split('\n')).toEqual([
      'Error: --lock-timeout "2m" would be 2 months: m means months; for minutes write 2min.',
    ])
    expect(await users()).toBe(before)
  })

  it('OPENMEMORY_LOCK_TIMEOUT=2m is refused the same way, naming the variable', async () => {
    const before = await users()
    const r = await runCommand(UsersCreate, ['alice', '--database-url', url], {OPENMEMORY_LOCK_TIMEOUT: '2m'})
    expect(r.exitCode).toBe(2)
    expect(r.stderr.trim().split('\n')).toEqual([
      'Error: OPENMEMORY_LOCK_TIMEOUT "2m" would be 2 months: m means months; for minutes write 2min.',
    ])
    expect(await users()).toBe(before)
  })

  it('under --json the refusal is the same one line, as the JSON error on stdout', async () => {
    const r = await runCommand(KeysList, ['--lock-timeout', '2m', '--json', '--database-url', url])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toBe('')
    expect(JSON.parse(r.stdout).error).toMatchObject({
      code: 'INVALID_INPUT',
      exitCode: 2,
      message: '--lock-timeout "2m" would be 2 months: m means months; for minutes write 2min.',
    })
  })

  it('--lock-timeout 2min and 1.5s are waits the command runs with', async () => {
    const r = await runCommand(UsersCreate, [
      'bob',
      '--lock-timeout',
      '2min',
      '--json',
      '--database-url',
      url,
    ])
    expect(r.exitCode).toBe(0)
    const list = await runCommand(UsersList, ['--lock-timeout', '1.5s', '--json', '--database-url', url])
    expect(list.exitCode).toBe(0)
    expect(JSON.parse(list.stdout).map((u: {userId: string}) => u.userId)).toContain('bob')
  })

  it('keys rotate --older-than 3m means three calendar months, not three minutes', async () => {
    const before = new Date()
    const r = await runCommand<KeysRotatePolicyResult>(KeysRotate, [
      '--older-than',
      '3m',
      '--dry-run',
      '--json',
      '--database-url',
      url,
    ])
    const after = new Date()
    expect(r.exitCode).toBe(0)
    const out = JSON.parse(r.stdout) as KeysRotatePolicyResult
    expect(out.olderThan).toBe('3m')
    const cutoff = new Date(out.cutoffAt).getTime()
    expect(cutoff).toBeGreaterThanOrEqual(parseOlderThan('3m', before).getTime())
    expect(cutoff).toBeLessThanOrEqual(parseOlderThan('3m', after).getTime())
    expect(before.getTime() - cutoff).toBeGreaterThan(85 * 86_400_000)
  })

  it.each([
    [
      KeysList,
      ['--older-than', '3min'],
      'Error: Invalid --older-than "3min": use an age such as 12h, 7d, 2w, 3m (months) or 1y.',
    ],
    [UsersList, ['--limit', 'abc'], 'Error: Invalid --limit "abc": use a whole number of at least 1.'],
    [
      PruneInactive,
      ['--days', '0', '--dry-run'],
      'Error: Invalid --days "0": use a whole number from 1 to 36500.',
    ],
  ] as const)('a value a flag refuses is exit 2 and its own one line (%#)', async (cmd, argv, line) => {
    const r = await runCommand(cmd, [...argv, '--database-url', url])
    expect(r.exitCode).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toEqual([line])
  })

  it.each([
    [
      UsersList,
      ['--sort', 'name'],
      'Invalid --sort "name": use one of user-id, created, last-active, memories',
    ],
    [
      PruneInactive,
      ['--mode', 'purge', '--dry-run'],
      'Invalid --mode "purge": use one of deactivate, delete',
    ],
  ] as const)('a sort key or mode outside the options is exit 2 naming them (%#)', async (cmd, argv, text) => {
    const r = await runCommand(cmd, [...argv, '--database-url', url])
    expect(r.exitCode).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain(text)
  })

  it('keys rotate: --key-dir, --keys-out and --seal-to depend on --older-than; nothing is created', async () => {
    const dir = path.join(tmp, 'keys')
    for (const argv of [
      ['alice', '--key-dir', dir],
      ['alice', '--keys-out', path.join(tmp, 'keys.csv')],
      ['alice', '--seal-to', 'age1x', '--out', path.join(tmp, 'keys.age')],
    ]) {
      const r = await runCommand(KeysRotate, [...argv, '--yes', '--database-url', url])
      expect(r.exitCode).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).toMatch(/--(key-dir|keys-out|seal-to) needs .*--older-than/)
    }
    expect(existsSync(dir)).toBe(false)
    expect(existsSync(path.join(tmp, 'keys.csv'))).toBe(false)
  })

  it('keys rotate --older-than --mcp-config needs --key-dir; without --older-than it does not', async () => {
    const file = path.join(tmp, 'rotated.csv')
    const r = await runCommand(KeysRotate, [
      '--older-than',
      '90d',
      '--mcp-config',
      '--keys-out',
      file,
      '--yes',
      '--database-url',
      url,
    ])
    expect(r.exitCode).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain('--mcp-config needs --key-dir')
    expect(existsSync(file)).toBe(false)
    expect((await runCommand(UsersCreate, ['carol', '--json', '--database-url', url])).exitCode).toBe(0)
    const one = await runCommand(KeysRotate, [
      'carol',
      '--mcp-config',
      '--yes',
      '--json',
      '--database-url',
      url,
    ])
    expect(one.exitCode).toBe(0)
  })
})

describe('a refused flag value through oclif', () => {
  it("keeps its class and its line, whatever oclif's parser did to the message", async () => {
    const error = await Parser.parse(['--lock-timeout=2m'], {flags: {'lock-timeout': waitFlag()}}).catch(
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(FlagValueError)
    const refused = error as FlagValueError
    expect(refused.message).toContain(refused.line)
    expect(refused.restored().message).toBe(
      '--lock-timeout "2m" would be 2 months: m means months; for minutes write 2min.',
    )
  })
})

describe('arguments', () => {
  it('are never read from stdin, on every command (src/flags.ts ARG)', () => {
    let seen = 0
    for (const [id, command] of Object.entries(COMMANDS)) {
      for (const [name, arg] of Object.entries(command.args ?? {})) {
        seen++
        expect({id, name, ignoreStdin: arg.ignoreStdin}).toEqual({id, name, ignoreStdin: true})
      }
    }
    expect(seen).toBeGreaterThan(5)
  })
})
