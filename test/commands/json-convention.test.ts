/**
 * One JSON convention: a cron log of three runs made with `>>log 2>&1` (one
 * doing work, one with nothing to do, one with the database down) is read
 * whole by `jq -s`; dryRun only with --dry-run.
 */
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import UsersCreate from '../../src/commands/users/create.js'
import UsersDeactivate from '../../src/commands/users/deactivate.js'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {BIN, runCommand} from '../helpers/run.js'
import {seedUsersBulk} from '../helpers/seed.js'

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

describe('JSON convention', () => {
  let td: TestDatabase
  const dir = mkdtempSync(path.join(os.tmpdir(), 'om-json-'))
  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    const d = await td.open({migrate: true})
    try {
      await seedUsersBulk(d, {prefix: 'idle', count: 3, daysAgo: 200, now: new Date()})
    } finally {
      await d.close()
    }
  })
  afterAll(async () => {
    await td?.drop()
    rmSync(dir, {recursive: true, force: true})
  })

  it('a three-run cron log (work, nothing to do, database down) is read whole by jq -s', () => {
    const log = path.join(dir, 'prune.log')
    const cron = (url: string) => {
      // Exactly the README's cron line: both streams appended to one file.
      try {
        execFileSync(
          'sh',
          ['-c', `"${process.execPath}" "${BIN}" prune-inactive --days 90 --yes --json >>"${log}" 2>&1`],
          {
            env: {
              ...process.env,
              DATABASE_URL: url,
              OPENMEMORY_DATABASE_URL: undefined,
              NODE_ENV: 'production',
            },
          },
        )
        return 0
      } catch (error) {
        return (error as {status: number}).status
      }
    }
    expect(cron(td.url!)).toBe(0)
    expect(cron(td.url!)).toBe(0)
    expect(cron('postgres://postgres:downSecret1@127.0.0.1:1/openmemory')).toBe(5)

    const docs = JSON.parse(execFileSync('jq', ['-s', '.', log], {encoding: 'utf8'})) as Record<
      string,
      unknown
    >[]
    const runs = docs.filter((d) => 'startedAt' in d)
    expect(runs).toHaveLength(3)
    expect(runs.map((r) => r.changedCount ?? null)).toEqual([3, 0, null])
    for (const r of runs) {
      expect(r.startedAt).toMatch(ISO_MS)
      expect(typeof r.durationMs).toBe('number')
    }
    expect(runs[2].error).toMatchObject({code: 'DB_UNAVAILABLE', exitCode: 5})
    // The error is reported once; the other documents are the JSON target lines.
    expect(docs.filter((d) => 'error' in d)).toHaveLength(1)
    expect(docs.filter((d) => d.event === 'target')).toHaveLength(3)
    expect(readFileSync(log, 'utf8')).not.toContain('downSecret1')
  })

  it('dryRun is true only with --dry-run: deactivating an already-deactivated user says false', async () => {
    const url = ['--database-url', td.url!]
    expect((await runCommand(UsersCreate, ['jsonconv', ...url])).exitCode).toBe(0)
    const first = await runCommand(UsersDeactivate, ['jsonconv', '--yes', '--json', ...url])
    expect(JSON.parse(first.stdout)).toMatchObject({changed: true, dryRun: false})
    const again = await runCommand(UsersDeactivate, ['jsonconv', '--yes', '--json', ...url])
    expect(again.exitCode).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({changed: false, dryRun: false})
    const dry = await runCommand(UsersDeactivate, ['jsonconv', '--dry-run', '--json', ...url])
    expect(JSON.parse(dry.stdout)).toMatchObject({dryRun: true})
  })
})
