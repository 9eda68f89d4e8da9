/**
 * Schema drift: a server whose schema gained a NOT NULL column without a
 * default that the tool does not write (say `api_keys.scope`), or whose column
 * changed type, is named by `db status`, and every write refuses with exit 5
 * naming the column before it changes anything. Extra nullable columns (and
 * NOT NULL ones with a default) are fine.
 */
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {sql} from 'drizzle-orm'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import DbStatus from '../../src/commands/db/status.js'
import UsersCreate from '../../src/commands/users/create.js'
import UsersImport from '../../src/commands/users/import.js'
import {rows} from '../../src/db/sql.js'
import {createTestDatabase, DRIVERS, type TestDatabase} from '../helpers/databases.js'
import {runCommand} from '../helpers/run.js'

describe.each(DRIVERS)('schema drift on %s', (driver) => {
  let td: TestDatabase
  beforeEach(async () => {
    td = await createTestDatabase(driver, 'multiuser', {migrated: true})
  })
  afterEach(async () => td?.drop())

  const env = () =>
    driver === 'postgres'
      ? {OPENMEMORY_DATABASE_URL: td.url, DATABASE_URL: undefined}
      : {OPENMEMORY_DATABASE_URL: undefined, DATABASE_URL: undefined, OPENMEMORY_DATA_DIR: td.dataDir}
  const alter = async (statement: string) => {
    const d = await td.open()
    try {
      await d.db.execute(sql.raw(statement))
    } finally {
      await d.close()
    }
  }
  const userCount = async () => {
    const d = await td.open()
    try {
      const [r] = await rows<{n: number}>(d.db, sql`select count(*)::int as n from users`)
      return r?.n
    } finally {
      await d.close()
    }
  }

  it('a NOT NULL column without a default: db status names it, create and import exit 5 changing nothing', async () => {
    await alter('alter table api_keys add column scope text not null')
    const status = await runCommand<{compatible: boolean; incompatibilities: unknown[]}>(
      DbStatus,
      ['--json'],
      env(),
    )
    const doc = JSON.parse(status.stdout)
    expect(doc.compatible).toBe(false)
    expect(doc.incompatibilities).toContainEqual({
      table: 'api_keys',
      column: 'scope',
      expected: 'nullable or with a default (openmemory does not write it)',
      found: 'text NOT NULL without a default',
    })

    const create = await runCommand(UsersCreate, ['bob', 'Bob'], env())
    expect(create.exitCode).toBe(5)
    expect(create.stderr).toMatch(/api_keys\.scope: expected nullable or with a default/)
    expect(create.stderr).not.toMatch(/SQLSTATE|violates/)
    expect(create.stdout).not.toMatch(/mem_lab_/)

    const dir = mkdtempSync(path.join(os.tmpdir(), 'om-drift-'))
    const csv = path.join(dir, 'team.csv')
    writeFileSync(csv, 'userId,name,email\ncarol,Carol,\n')
    const imported = await runCommand(UsersImport, [csv, '--keys-out', path.join(dir, 'keys.csv')], env())
    expect(imported.exitCode).toBe(5)
    expect(existsSync(path.join(dir, 'keys.csv'))).toBe(false)
    rmSync(dir, {recursive: true, force: true})
    expect(await userCount()).toBe(0)
  })

  it('a changed type is named too; extra nullable or defaulted columns are fine', async () => {
    await alter('alter table users add column nickname text, add column tier int not null default 0')
    const ok = await runCommand(UsersCreate, ['bob', 'Bob', '--json'], env())
    expect(ok.exitCode, ok.stderr).toBe(0)
    await alter('alter table apps alter column name type varchar(10)')
    const bad = await runCommand(UsersCreate, ['carol', 'Carol'], env())
    expect(bad.exitCode).toBe(5)
    expect(bad.stderr).toMatch(/apps\.name: expected .*, found character varying\(10\)/)
    expect(await userCount()).toBe(1)
  })
})
