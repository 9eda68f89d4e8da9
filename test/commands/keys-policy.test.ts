import {readFileSync, rmSync, statSync} from 'node:fs'
import path from 'node:path'
import {parse} from 'csv-parse/sync'
import {sql} from 'drizzle-orm'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import KeysList from '../../src/commands/keys/list.js'
import KeysRotate, {type KeysRotatePolicyResult} from '../../src/commands/keys/rotate.js'
import UsersImport from '../../src/commands/users/import.js'
import type {Database} from '../../src/db/client.js'
import {rows} from '../../src/db/sql.js'
import type {KeyListItem} from '../../src/services/key-lifecycle.js'
import {ageDecryptKeys, ageIdentity, readKeysCsv, runOn, teamCsv, tempDir} from '../helpers/bulk.js'
import {
  createTestDatabase,
  DRIVERS,
  holdRunLock,
  resetTables,
  type TestDatabase,
} from '../helpers/databases.js'
import {serverAuthenticates} from '../helpers/server-rule.js'

const DAY = 86_400_000

describe.each(DRIVERS)('key rotation policy on %s', (driver) => {
  let td: TestDatabase
  let tmp: string
  /** Every user's current key, from the import. */
  let keys: Map<string, string>
  beforeAll(async () => {
    td = await createTestDatabase(driver, undefined, {migrated: true})
    const d = await td.open({migrate: true})
    await d.close()
  })
  afterAll(async () => {
    await td?.drop()
  })
  async function withDb<T>(fn: (d: Database) => Promise<T>): Promise<T> {
    const d = await td.open()
    try {
      return await fn(d)
    } finally {
      await d.close()
    }
  }
  const ageKey = (d: Database, userId: string, days: number | null) =>
    d.db.execute(sql`update api_keys set created_at = ${days === null ? null : new Date(Date.now() - days * DAY).toISOString()}::timestamp
      where user_id = (select id from users where user_id = ${userId})`)

  /**
   * Eight users: old1..old3 keys 100 days old, unknown (no created_at), young1..young2 10 days old,
   * revoked (old but inactive), fresh (just made).
   */
  beforeEach(async () => {
    tmp = tempDir()
    await withDb(resetTables)
    const file = path.join(tmp, 'team.csv')
    const {writeFileSync} = await import('node:fs')
    const ids = ['old1', 'old2', 'old3', 'unknown', 'young1', 'young2', 'revoked', 'fresh']
    writeFileSync(
      file,
      teamCsv(ids.length, 'x', (i, row) => [ids[i - 1], ...row.slice(1, 2), '', '', '']),
    )
    const out = path.join(tmp, 'initial.csv')
    const r = await runOn(td, UsersImport, [file, '--keys-out', out])
    expect(r.exitCode).toBe(0)
    keys = new Map(readKeysCsv(out).map((k) => [k.userId, k.apiKey]))
    await withDb(async (d) => {
      for (const u of ['old1', 'old2', 'old3', 'revoked']) await ageKey(d, u, 100)
      await ageKey(d, 'unknown', null)
      for (const u of ['young1', 'young2']) await ageKey(d, u, 10)
      await d.db.execute(
        sql`update api_keys set is_active = false where user_id = (select id from users where user_id = 'revoked')`,
      )
    })
    return () => rmSync(tmp, {recursive: true, force: true})
  })
  const authenticated = () =>
    withDb(async (d) => {
      const out: Record<string, string | null> = {}
      for (const [userId, key] of keys) out[userId] = await serverAuthenticates(d, key)
      return out
    })

  it('keys list --older-than lists exactly the keys older than the age (unknown age counts as old)', async () => {
    const r = await runOn<KeyListItem[]>(td, KeysList, ['--older-than', '90d', '--json'])
    expect(r.exitCode).toBe(0)
    const listed = JSON.parse(r.stdout) as KeyListItem[]
    expect(listed.map((k) => k.userId)).toEqual(['old1', 'old2', 'old3', 'revoked', 'unknown'])
    const weeks = await runOn(td, KeysList, ['--older-than', '1w', '--json'])
    expect((JSON.parse(weeks.stdout) as KeyListItem[]).map((k) => k.userId)).toContain('young1')
    const bad = await runOn(td, KeysList, ['--older-than', '90x'])
    expect(bad.exitCode).toBe(2)
    expect(bad.stderr).toContain('--older-than')
  })

  it('an odd server-made id (é x 60, 360 bytes encoded) fails no one: every key lands, the manifest maps it', async () => {
    const odd = 'é'.repeat(60)
    await withDb(async (d) => {
      await d.db.execute(sql`update users set user_id = ${odd} where user_id = 'old2'`)
    })
    const dir = path.join(tmp, 'keys')
    const r = await runOn(td, KeysRotate, ['--older-than', '90d', '--yes', '--key-dir', dir])
    expect(r.exitCode, r.stderr).toBe(0)
    const manifest = parse(readFileSync(path.join(dir, 'manifest.csv'), 'utf8'), {columns: true}) as {
      userId: string
      file: string
    }[]
    expect(manifest.map((m) => m.userId).sort()).toEqual(['old1', 'old3', 'unknown', odd].sort())
    for (const m of manifest) {
      expect(Buffer.byteLength(m.file)).toBeLessThan(255)
      const key = readFileSync(path.join(dir, m.file), 'utf8').trim()
      expect(await withDb((d) => serverAuthenticates(d, key))).toBe(m.userId)
    }
  })

  it('rotates exactly the active keys older than the cut-off; their old keys stop working', async () => {
    const out = path.join(tmp, 'rotated.csv')
    const r = await runOn<KeysRotatePolicyResult>(td, KeysRotate, [
      '--older-than',
      '90d',
      '--yes',
      '--keys-out',
      out,
      '--json',
    ])
    expect(r.exitCode).toBe(0)
    const result = JSON.parse(r.stdout) as KeysRotatePolicyResult
    expect(result).toMatchObject({
      matchedCount: 4,
      rotatedCount: 4,
      dryRun: false,
      destination: {kind: 'keys-out', path: out},
    })
    expect(result.userIds.sort()).toEqual(['old1', 'old2', 'old3', 'unknown'])
    expect(r.stdout + r.stderr).not.toMatch(/mem_lab_/)
    expect(statSync(out).mode & 0o777).toBe(0o600)
    const rotated = readKeysCsv(out)
    expect(rotated.map((k) => k.userId).sort()).toEqual(['old1', 'old2', 'old3', 'unknown'])
    const before = await authenticated()
    // Old keys of the rotated users no longer work; the others are untouched.
    expect(before).toEqual({
      old1: null,
      old2: null,
      old3: null,
      unknown: null,
      young1: 'young1',
      young2: 'young2',
      revoked: null,
      fresh: 'fresh',
    })
    await withDb(async (d) => {
      for (const k of rotated) expect(await serverAuthenticates(d, k.apiKey)).toBe(k.userId)
      const audit = await rows<{target_user_id: string}>(
        d.db,
        sql`
        select target_user_id from openmemory_admin.audit_log
        where command = 'keys rotate' and outcome = 'changed' order by target_user_id`,
      )
      expect(audit.map((a) => a.target_user_id)).toEqual(['old1', 'old2', 'old3', 'unknown'])
      // The revoked key stays revoked.
      const [revoked] = await rows<{is_active: boolean}>(
        d.db,
        sql`select k.is_active from api_keys k join users u on u.id = k.user_id where u.user_id = 'revoked'`,
      )
      expect(revoked.is_active).toBe(false)
    })
    // Run again: the new keys are young, nothing to do.
    const again = await runOn<KeysRotatePolicyResult>(td, KeysRotate, [
      '--older-than',
      '90d',
      '--yes',
      '--keys-out',
      path.join(tmp, 'again.csv'),
      '--json',
    ])
    expect(JSON.parse(again.stdout)).toMatchObject({matchedCount: 0, rotatedCount: 0})
  })

  it('seals the rotated keys with age; the real age tool reads them and they authenticate', async () => {
    const {identityFile, recipient} = ageIdentity(tmp)
    const out = path.join(tmp, 'rotated.age')
    const r = await runOn(td, KeysRotate, [
      '--older-than',
      '3m',
      '--yes',
      '--seal-to',
      recipient,
      '--out',
      out,
    ])
    expect(r.exitCode).toBe(0)
    expect(r.stdout + r.stderr).not.toMatch(/mem_lab_/)
    const rotated = ageDecryptKeys(identityFile, out)
    expect(rotated.map((k) => k.userId).sort()).toEqual(['old1', 'old2', 'old3', 'unknown'])
    await withDb(async (d) => {
      for (const k of rotated) expect(await serverAuthenticates(d, k.apiKey)).toBe(k.userId)
    })
  })

  it('asks first: without a terminal it needs --yes; --dry-run lists and changes nothing', async () => {
    const refused = await runOn(td, KeysRotate, [
      '--older-than',
      '90d',
      '--keys-out',
      path.join(tmp, 'k.csv'),
    ])
    expect(refused.exitCode).toBe(2)
    expect(refused.stderr).toContain('--yes')
    const noDest = await runOn(td, KeysRotate, ['--older-than', '90d', '--yes'])
    expect(noDest.exitCode).toBe(2)
    expect(noDest.stderr).toContain('--keys-out')
    const dry = await runOn<KeysRotatePolicyResult>(td, KeysRotate, [
      '--older-than',
      '90d',
      '--dry-run',
      '--json',
    ])
    expect(dry.exitCode).toBe(0)
    const preview = JSON.parse(dry.stdout) as KeysRotatePolicyResult
    expect(preview).toMatchObject({dryRun: true, matchedCount: 4, rotatedCount: 0})
    expect(preview.keys?.map((k) => k.userId)).toEqual(['old1', 'old2', 'old3', 'unknown'])
    expect(await authenticated()).toMatchObject({old1: 'old1', unknown: 'unknown'})
    const both = await runOn(td, KeysRotate, ['old1', '--older-than', '90d', '--yes'])
    expect(both.exitCode).toBe(2)
  })

  it.runIf(driver === 'postgres')(
    'exits 75 while another bulk run holds the lock, changing nothing',
    async () => {
      const holder = await holdRunLock(td.url!, 'bulk-keys')
      try {
        const out = path.join(tmp, 'k.csv')
        const r = await runOn(td, KeysRotate, ['--older-than', '90d', '--yes', '--keys-out', out])
        expect(r.exitCode).toBe(75)
        expect(r.stderr).toContain('Another bulk run')
        expect(await authenticated()).toMatchObject({old1: 'old1'})
        const {existsSync} = await import('node:fs')
        expect(existsSync(out)).toBe(false)
      } finally {
        await holder.release()
      }
    },
  )
})
