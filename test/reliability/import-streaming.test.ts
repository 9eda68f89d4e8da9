/**
 * `users import` streams its input (issue 22, point 8): the file, or stdin,
 * is copied once into a private 0600 file and read in bounded passes, so an
 * import never holds all its rows. Proved through the built CLI on both
 * databases: 30,000 rows from stdin under a 64 MiB JavaScript heap (the
 * import that held every row ran out of memory there), the copy private
 * while the run is stopped and gone however it ends, and a file changed
 * after it was read imported as it was read. Peak RSS at 100,000 rows is a
 * benchmark figure (npm run bench:import), not asserted here.
 */
import {mkdirSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {sql} from 'drizzle-orm'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/client.js'
import {rows} from '../../src/db/sql.js'
import {ageDecryptKeys, ageIdentity, readKeysCsv, teamCsv, tempDir} from '../helpers/bulk.js'
import {createTestDatabase, DRIVERS, type TestDatabase} from '../helpers/databases.js'
import {runBin} from '../helpers/run.js'
import {serverAuthenticates} from '../helpers/server-rule.js'

describe.each(DRIVERS)('users import streams its input (%s)', (driver) => {
  let td: TestDatabase
  let tmp: string
  /** The TMPDIR the CLI gets: where its copy of the input goes. */
  let spool: string
  beforeAll(async () => {
    td = await createTestDatabase(driver, undefined, {migrated: true})
  })
  afterAll(async () => {
    await td?.drop()
  })
  beforeEach(() => {
    tmp = tempDir()
    spool = path.join(tmp, 'tmp')
    mkdirSync(spool)
  })
  const check = async <T>(fn: (database: Database) => Promise<T>): Promise<T> => {
    const database = await td.open()
    try {
      return await fn(database)
    } finally {
      await database.close()
    }
  }
  const env = (extra: Record<string, string> = {}) => ({
    ...(driver === 'postgres'
      ? {OPENMEMORY_DATABASE_URL: td.url!}
      : {OPENMEMORY_DATA_DIR: td.dataDir!, OPENMEMORY_DATABASE_URL: undefined, DATABASE_URL: undefined}),
    TMPDIR: spool,
    ...extra,
  })
  const usersLike = (prefix: string) =>
    check(async (database) =>
      (
        await rows<{user_id: string}>(
          database.db,
          sql`select user_id from users where user_id like ${`${prefix}%`} order by user_id`,
        )
      ).map((r) => r.user_id),
    )

  it('imports 30,000 rows from stdin, sealed with age, under a 64 MiB heap; the copy of stdin is gone after', async () => {
    const {identityFile, recipient} = ageIdentity(tmp)
    const out = path.join(tmp, 'keys.age')
    const r = await runBin(['users', 'import', '-', '--seal-to', recipient, '--out', out, '--json'], {
      input: teamCsv(30_000, 'heap'),
      env: env({NODE_OPTIONS: '--max-old-space-size=64'}),
    })
    expect(r.stderr).not.toContain('heap out of memory')
    expect(r.exitCode, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout).createdCount).toBe(30_000)
    const keys = ageDecryptKeys(identityFile, out)
    expect(keys).toHaveLength(30_000)
    expect(new Set(keys.map((k) => k.userId)).size).toBe(30_000)
    expect((await usersLike('heap')).length).toBe(30_000)
    for (const k of [keys[0], keys[14_999], keys[29_999]]) {
      expect(await check((database) => serverAuthenticates(database, k.apiKey))).toBe(k.userId)
    }
    expect(readdirSync(spool)).toEqual([])
  })

  it('keeps its copy of the input private (0700 folder, 0600 file) while it runs; SIGINT removes it with the keys', async () => {
    const file = path.join(tmp, 'team.csv')
    writeFileSync(file, teamCsv(50, 'priv'))
    let seen: {dir: number; file: number; files: string[]} | undefined
    const r = await runBin(['users', 'import', file, '--keys-out', path.join(tmp, 'keys.csv')], {
      env: env(),
      stopAt: {
        point: 'staged',
        meanwhile: async () => {
          const [dir] = readdirSync(spool).filter((n) => n.startsWith('openmemory-input-'))
          const files = readdirSync(path.join(spool, dir))
          seen = {
            dir: statSync(path.join(spool, dir)).mode & 0o777,
            file: statSync(path.join(spool, dir, files[0])).mode & 0o777,
            files,
          }
          return 'SIGINT'
        },
      },
    })
    expect(r.exitCode).toBe(130)
    expect(seen).toEqual({dir: 0o700, file: 0o600, files: ['input.csv']})
    expect(readdirSync(spool)).toEqual([])
    expect(readdirSync(tmp).sort()).toEqual(['team.csv', 'tmp'])
    expect(await usersLike('priv')).toEqual([])
  })

  it('imports the file as it was read, even when it changes while the run is under way', async () => {
    const file = path.join(tmp, 'team.csv')
    writeFileSync(file, teamCsv(3, 'asread'))
    const keysOut = path.join(tmp, 'keys.csv')
    const r = await runBin(['users', 'import', file, '--keys-out', keysOut], {
      env: env(),
      stopAt: {
        point: 'staged',
        meanwhile: async () => {
          writeFileSync(file, teamCsv(3, 'changed'))
          return null
        },
      },
    })
    expect(r.exitCode, r.stderr).toBe(0)
    expect(await usersLike('asread')).toEqual(['asread1', 'asread2', 'asread3'])
    expect(await usersLike('changed')).toEqual([])
    expect(readKeysCsv(keysOut).map((k) => k.userId)).toEqual(['asread1', 'asread2', 'asread3'])
    expect(readdirSync(spool)).toEqual([])
  })
})
