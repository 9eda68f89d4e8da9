/**
 * Key destinations are checked early and the same way for --dry-run and a
 * real run (issue 22, point 6): nothing is written, the database untouched.
 */
import {execFileSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import UsersImport from '../../src/commands/users/import.js'
import type {Database} from '../../src/db/client.js'
import {tempDir} from '../helpers/bulk.js'
import {createTestDatabase, resetTables, type TestDatabase} from '../helpers/databases.js'
import {runCommand} from '../helpers/run.js'
import {count} from '../helpers/server-rule.js'

describe('bulk key destinations', () => {
  let td: TestDatabase
  let database: Database
  let tmp: string
  let csv: string
  beforeAll(async () => {
    td = await createTestDatabase('postgres')
    database = await td.open({migrate: true})
  })
  afterAll(async () => {
    await database?.close()
    await td?.drop()
  })
  beforeEach(async () => {
    await resetTables(database)
    tmp = tempDir()
    csv = path.join(tmp, 'team.csv')
    writeFileSync(csv, 'userId,name,email\nann,Ann,\n')
    return () => rmSync(tmp, {recursive: true, force: true})
  })
  const run = (argv: string[]) => runCommand(UsersImport, [csv, ...argv, '--database-url', td.url!])

  it.each([
    [
      'an existing file',
      () => writeFileSync(path.join(tmp, 'taken.csv'), 'x'),
      'taken.csv',
      4,
      'already exists',
    ],
    ['a directory', () => mkdirSync(path.join(tmp, 'adir')), 'adir', 2, 'is an existing directory'],
  ])('--keys-out %s is refused by the dry run as by the real run', async (_what, make, name, code, text) => {
    make()
    for (const dry of [['--dry-run'], []]) {
      const r = await run(['--keys-out', path.join(tmp, name), ...dry])
      expect(r.exitCode, r.stderr).toBe(code)
      expect(r.stderr).toContain(text)
    }
    expect(await count(database, 'users')).toBe(0)
  })

  it('--keys-out - (stdout) and a device are refused: keys never go to a pipe', async () => {
    for (const target of ['-', '/dev/stdout']) {
      const r = await run(['--keys-out', target])
      expect(r.exitCode).toBe(2)
      expect(r.stderr).toContain('never go to stdout or a device')
    }
  })

  it('--seal-to a FIFO or /dev/zero is refused at once (not read), exit 2', async () => {
    const fifo = path.join(tmp, 'fifo')
    execFileSync('mkfifo', [fifo])
    for (const recipients of [fifo, '/dev/zero']) {
      const r = await run(['--seal-to', recipients, '--out', path.join(tmp, 'k.age'), '--dry-run'])
      expect(r.exitCode).toBe(2)
      expect(r.stderr).toContain('is not a regular file')
    }
    expect(existsSync(path.join(tmp, 'k.age'))).toBe(false)
  })

  it('a key directory inside a world-writable directory without the sticky bit is refused; with it, accepted', async () => {
    const open = path.join(tmp, 'open')
    mkdirSync(open)
    chmodSync(open, 0o777)
    const refused = await run(['--key-dir', path.join(open, 'keys')])
    expect(refused.exitCode).toBe(2)
    expect(refused.stderr).toContain('no sticky bit')
    expect(existsSync(path.join(open, 'keys'))).toBe(false)
    chmodSync(open, 0o1777)
    const ok = await run(['--key-dir', path.join(open, 'keys')])
    expect(ok.exitCode, ok.stderr).toBe(0)
    expect(await count(database, 'users')).toBe(1)
  })
})
