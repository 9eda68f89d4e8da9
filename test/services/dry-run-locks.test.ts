/**
 * Dry runs read a snapshot and take no row locks: while another session holds
 * a user's row FOR UPDATE, every dry run on that user still completes, and
 * while a dry run's snapshot is open another session can lock the row NOWAIT.
 * The real runs under the same hold are the control: they do wait for the
 * lock (and give up at the session's lock_timeout), so the test can fail.
 */
import {sql} from 'drizzle-orm'
import postgres from 'postgres'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/client.js'
import {inSnapshot} from '../../src/db/sql.js'
import {BusyError} from '../../src/errors.js'
import {previewRotation, revokeKey} from '../../src/services/key-lifecycle.js'
import {deactivateUser, deleteUser} from '../../src/services/lifecycle.js'
import {createUser} from '../../src/services/users.js'
import {testContext} from '../helpers/context.js'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'

describe('dry runs take no row locks (PostgreSQL)', () => {
  let td: TestDatabase | undefined
  let database: Database | undefined
  let holder: postgres.Sql | undefined
  const ctx = testContext('test').ctx

  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    database = await td.open({migrate: true})
    // Bound every wait of this session: a dry run that tried to lock would fail, not hang.
    await database.db.execute(sql`set lock_timeout = '300ms'`)
    await createUser(database.db, {userId: 'alice'}, ctx)
    holder = postgres(td.url!, {max: 1, onnotice: () => {}})
  })
  afterAll(async () => {
    await holder?.end({timeout: 1})
    await database?.close()
    await td?.drop()
  })

  /** Run `fn` while the holder session has alice's user row locked FOR UPDATE. */
  async function whileLocked<T>(fn: () => Promise<T>): Promise<T> {
    let result: {value: T} | {error: unknown} | undefined
    await holder!.begin(async (tx) => {
      await tx`select 1 from users where user_id = 'alice' for update`
      try {
        result = {value: await fn()}
      } catch (error) {
        result = {error}
      }
    })
    if (result && 'error' in result) throw result.error
    return (result as {value: T}).value
  }

  const dryRuns: [string, () => Promise<unknown>][] = [
    ['users deactivate --dry-run', () => deactivateUser(database!.db, 'alice', {dryRun: true}, ctx)],
    ['keys revoke --dry-run', () => revokeKey(database!.db, 'alice', ctx, {dryRun: true})],
    ['users delete --dry-run', () => deleteUser(database!.db, 'alice', {dryRun: true}, ctx)],
    ['keys rotate --dry-run', () => previewRotation(database!.db, 'alice')],
  ]

  it.each(dryRuns)('%s completes while another session holds the user row', async (_, dryRun) => {
    await expect(whileLocked(dryRun)).resolves.toMatchObject({userId: 'alice'})
  })

  it.each<[string, () => Promise<unknown>]>([
    ['users deactivate', () => deactivateUser(database!.db, 'alice', {}, ctx)],
    ['keys revoke', () => revokeKey(database!.db, 'alice', ctx)],
  ])('the real %s waits for that lock (control)', async (_, run) => {
    const error = await whileLocked(run).then(
      () => undefined,
      (e: unknown) => e,
    )
    // lock_timeout (SQLSTATE 55P03), reported as busy (exit 75) naming the user.
    expect(error).toBeInstanceOf(BusyError)
    expect((error as Error).message).toContain("user 'alice'")
  })

  it('holds no lock on the user row while its snapshot is open', async () => {
    // The holder locks NOWAIT from inside a dry run's snapshot: it would fail (55P03) if the snapshot held a row lock.
    const locked = await inSnapshot(database!.db, async (tx) => {
      await deactivateUser(tx, 'alice', {dryRun: true}, ctx)
      await revokeKey(tx, 'alice', ctx, {dryRun: true})
      return holder!.begin(
        async (h) => h`select user_id from users where user_id = 'alice' for update nowait`,
      )
    })
    expect(locked).toEqual([{user_id: 'alice'}])
  })
})
