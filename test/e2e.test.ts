/**
 * The built CLI run as a user runs it: a child process with no terminal.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {runBin} from './helpers/run.js'

describe('openmemory (built binary)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'om-e2e-'))
  const env = {
    OPENMEMORY_DATA_DIR: path.join(dir, 'pgdata'),
    DATABASE_URL: undefined,
    OPENMEMORY_DATABASE_URL: undefined,
  }
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it('creates the embedded database on first use, then creates and lists a user', async () => {
    const created = await runBin(
      ['users', 'create', 'charlie', 'Charlie Brown', 'charlie@example.com', '--json'],
      {env},
    )
    expect(created.exitCode).toBe(0)
    expect(created.stderr).toContain('Creating the embedded database')
    expect(JSON.parse(created.stdout).apiKey).toMatch(/^mem_lab_/)
    const listed = await runBin(['users', 'list', '--json'], {env})
    expect(listed.exitCode).toBe(0)
    expect(JSON.parse(listed.stdout).map((u: {userId: string}) => u.userId)).toEqual(['charlie'])
    const status = await runBin(['db', 'status', '--json'], {env})
    expect(JSON.parse(status.stdout)).toMatchObject({driver: 'embedded', schema: 'managed', compatible: true})
  })

  it('exits 5 naming the masked target when the database refuses connections', async () => {
    const r = await runBin(['users', 'list'], {
      env: {OPENMEMORY_DATABASE_URL: 'postgres://admin:s3cretpw@127.0.0.1:1/openmemory'},
    })
    expect(r.exitCode).toBe(5)
    expect(r.stderr).toContain('postgres://admin:***@127.0.0.1:1/openmemory')
    expect(r.stderr).not.toContain('s3cretpw')
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('names a missing database and never shows the password, even with DEBUG', async () => {
    const r = await runBin(['db', 'status'], {
      env: {DATABASE_URL: 'postgresql://postgres:hunter2pw@127.0.0.1:5432/om_missing_db', DEBUG: '1'},
    })
    expect(r.exitCode).toBe(5)
    expect(r.stderr).toContain('does not exist')
    expect(r.stdout + r.stderr).not.toContain('hunter2pw')
  })

  it('writes no colour codes when stdout is a pipe', async () => {
    const r = await runBin(['db', 'status'], {env})
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toContain('Compatible:  yes')
    expect(r.stdout).not.toContain(String.fromCharCode(27))
  })

  it('rejects a URL that is not postgres:// with exit 2', async () => {
    const r = await runBin(['users', 'list'], {env: {DATABASE_URL: 'mysql://x@y/z'}})
    expect(r.exitCode).toBe(2)
  })

  it('shows help with examples without touching the database', async () => {
    const r = await runBin(['users', 'create', '--help'], {
      env: {DATABASE_URL: 'postgres://nobody@127.0.0.1:1/x'},
    })
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toContain('EXAMPLES')
  })
})
