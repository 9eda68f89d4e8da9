/**
 * The database URL as operators write it: passwords holding / @ : % + and
 * spaces never reach any output, and a malformed URL exits 2 with one line,
 * before anything connects. Real PostgreSQL (trust auth ignores the password).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import DbStatus from '../../src/commands/db/status.js'
import PruneInactive from '../../src/commands/prune-inactive.js'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {runCommand} from '../helpers/run.js'

const PASSWORDS = ['a/b+c=d', 'p@ss:w/rd', '100%+real', 'with space/and@at', 'q?x#y/z']

describe('database URLs with hard passwords (PostgreSQL)', () => {
  let td: TestDatabase
  let base: URL
  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    base = new URL(td.url!)
    await (await td.open({migrate: true})).close()
  })
  afterAll(async () => td?.drop())

  const withPassword = (encoded: string) => `postgres://postgres:${encoded}@${base.host}${base.pathname}`

  it.each(PASSWORDS)('an encoded password %j connects and is shown as *** everywhere', async (pw) => {
    const url = withPassword(encodeURIComponent(pw))
    const masked = withPassword('***')
    const prune = await runCommand(PruneInactive, ['--days', '90', '--dry-run', '--database-url', url])
    expect(prune.exitCode).toBe(0)
    expect(prune.stderr.split('\n')[0]).toBe(`openmemory: dry run against ${masked} (from --database-url)`)
    const status = await runCommand<{target: string}>(DbStatus, ['--json', '--database-url', url])
    expect(status.exitCode).toBe(0)
    expect(status.result?.target).toBe(masked)
    for (const out of [prune.stdout, prune.stderr, status.stdout, status.stderr]) {
      expect(out).not.toContain(pw)
      expect(out).not.toContain(encodeURIComponent(pw))
    }
  })

  it.each(PASSWORDS)('an unencoded password %j exits 2 with one line, and is never shown', async (pw) => {
    const url = withPassword(pw)
    for (const env of [{}, {DATABASE_URL: url}]) {
      const argv = ['--days', '90', '--yes', ...('DATABASE_URL' in env ? [] : ['--database-url', url])]
      const r = await runCommand(PruneInactive, argv, env)
      expect(r.exitCode).toBe(2)
      expect(r.stdout).toBe('')
      const lines = r.stderr.trim().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(
        /The database URL from (--database-url|DATABASE_URL) is malformed: .*postgres:\*\*\*@/,
      )
      expect(r.stderr).not.toContain(pw)
    }
  })

  it.each([
    ['port 99999', () => `postgres://postgres@${base.hostname}:99999${base.pathname}`, /port/],
    ['an unclosed IPv6 bracket', () => `postgres://postgres@[::1${base.pathname}`, /IPv6|host/],
    [
      'a bad percent-escape',
      () => `postgres://postgres:x%ZZ@${base.host}${base.pathname}`,
      /percent-encoding/,
    ],
  ])('%s exits 2 with one clear line (no "Unexpected failure")', async (_label, url, why) => {
    const r = await runCommand(DbStatus, ['--json', '--database-url', url()])
    expect(r.exitCode).toBe(2)
    // Under --json the error is reported once, on stdout; stderr stays empty.
    expect(r.stderr).toBe('')
    const error = JSON.parse(r.stdout).error
    expect(error).toMatchObject({code: 'INVALID_INPUT', exitCode: 2})
    expect(error.message).not.toContain('\n')
    expect(error.message).toMatch(why)
    expect(error.message).not.toMatch(/Unexpected failure/)
  })
})
