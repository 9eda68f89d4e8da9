/**
 * Every write names its target on stderr before it writes: the masked URL and
 * where it came from, or the embedded path and that no URL variable is set.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import UsersCreate from '../../src/commands/users/create.js'
import UsersList from '../../src/commands/users/list.js'
import {copyEmbeddedTemplate, createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {runCommand} from '../helpers/run.js'

describe('the target line', () => {
  let td: TestDatabase
  let url: string
  const dir = mkdtempSync(path.join(os.tmpdir(), 'om-target-'))
  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    await (await td.open({migrate: true})).close()
    const u = new URL(td.url!)
    u.password = 'targetSecret7' // trust auth ignores it; it must never show
    url = u.toString()
  })
  afterAll(async () => {
    await td?.drop()
    rmSync(dir, {recursive: true, force: true})
  })

  it('names the masked URL and DATABASE_URL before writing', async () => {
    const r = await runCommand(UsersCreate, ['tgt_one'], {
      DATABASE_URL: url,
      OPENMEMORY_DATABASE_URL: undefined,
    })
    expect(r.exitCode).toBe(0)
    expect(r.stderr.split('\n')[0]).toBe(
      `openmemory: writing to ${url.replace('targetSecret7', '***')} (from DATABASE_URL)`,
    )
    expect(r.stdout + r.stderr).not.toContain('targetSecret7')
  })

  it('names the embedded path and says that no URL variable is set, once', async () => {
    // An existing embedded database (the first run's creation is e2e.test.ts's).
    const dataDir = copyEmbeddedTemplate(path.join(dir, 'pgdata'), {migrated: true})
    const r = await runCommand(UsersCreate, ['tgt_two'], {
      DATABASE_URL: undefined,
      OPENMEMORY_DATABASE_URL: undefined,
      OPENMEMORY_DATA_DIR: dataDir,
    })
    expect(r.exitCode).toBe(0)
    const lines = r.stderr.split('\n')
    expect(lines[0]).toBe(
      `openmemory: writing to embedded database at ${dataDir} (from OPENMEMORY_DATA_DIR; neither OPENMEMORY_DATABASE_URL nor DATABASE_URL is set)`,
    )
    expect(lines.filter((l) => l.includes('neither OPENMEMORY_DATABASE_URL'))).toHaveLength(1)
  })

  it('is a JSON line under --json, and reads say nothing', async () => {
    const r = await runCommand(UsersCreate, ['tgt_three', '--json', '--database-url', url])
    expect(r.exitCode).toBe(0)
    const lines = r.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0])).toMatchObject({
      event: 'target',
      source: '--database-url',
      target: url.replace('targetSecret7', '***'),
    })
    const list = await runCommand(UsersList, ['--database-url', url])
    expect(list.exitCode).toBe(0)
    expect(list.stderr).not.toContain('writing to')
  })
})
