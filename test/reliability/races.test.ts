/**
 * Races between separate processes of the built CLI on one PostgreSQL
 * database: the same user created at once, one user's key rotated at once,
 * two prune runs at once.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {
  authenticates,
  checkInvariants,
  createPgDb,
  HEAVY,
  hasCommand,
  isOneLine,
  keysIn,
  type PgTestDb,
  runCli,
  sha256,
} from './harness.js'

// Light: enough processes to overlap on two cores (each race is decided in the database, whatever
// the count); the heavy run's 150 creators and 60 rotators are the soak.
const CREATORS = HEAVY ? 50 : 10
const CREATE_ROUNDS = HEAVY ? 3 : 1
const ROTATORS = HEAVY ? 20 : 5
const ROTATE_ROUNDS = HEAVY ? 3 : 1
const PRUNE_ROUNDS = HEAVY ? 3 : 1

describe('races between processes (PostgreSQL)', () => {
  let db: PgTestDb
  let env: Record<string, string | undefined>
  const figures = {createRaces: 0, createProcesses: 0, rotateRaces: 0, rotateProcesses: 0, pruneRaces: 0}

  beforeAll(async () => {
    db = await createPgDb('race')
    env = {OPENMEMORY_DATABASE_URL: db.url, DATABASE_URL: undefined}
  })
  afterAll(async () => {
    console.log(`[reliability] races: ${JSON.stringify(figures)}`)
    await db?.drop()
  })

  it(`${CREATORS} concurrent 'users create' of one userId: exactly one succeeds, the rest exit 4, no partial rows`, async () => {
    for (let round = 0; round < CREATE_ROUNDS; round++) {
      const userId = `racer_${round}`
      const results = await Promise.all(
        Array.from({length: CREATORS}, (_, i) =>
          runCli(['users', 'create', userId, `Racer ${i}`, `racer${round}_${i}@example.com`, '--json'], {
            env,
          }),
        ),
      )
      figures.createRaces++
      figures.createProcesses += results.length
      const codes = results.map((r) => r.exitCode).sort((a, b) => (a ?? 0) - (b ?? 0))
      expect(codes).toEqual([0, ...Array(CREATORS - 1).fill(4)])
      for (const r of results.filter((x) => x.exitCode === 4)) {
        // --json: the error once, on stdout; stderr holds only JSON lines (the target line).
        for (const line of r.stderr.split('\n').filter(Boolean))
          expect(JSON.parse(line).error).toBeUndefined()
        expect(JSON.parse(r.stdout).error.message).toContain('already exists')
      }
      const winner = results.find((r) => r.exitCode === 0)!
      const created = JSON.parse(winner.stdout) as {apiKey: string; name: string}
      expect(await authenticates(db.sql, created.apiKey)).toBe(userId)
      const [row] = await db.sql`
        select u.name,
               (select count(*)::int from api_keys k where k.user_id = u.id) as keys,
               (select count(*)::int from apps a where a.owner_id = u.id) as apps,
               (select count(*)::int from openmemory_admin.audit_log l where l.target_user_id = u.user_id) as audits
        from users u where u.user_id = ${userId}`
      expect(row).toEqual({name: created.name, keys: 1, apps: 1, audits: 1})
      // Losers wrote nothing: no email of theirs anywhere.
      const [{n}] = await db.sql`select count(*)::int as n from users where email like ${`racer${round}_%`}`
      expect(n).toBe(1)
    }
    expect(await checkInvariants(db.sql)).toEqual([])
  })

  it(`${ROTATORS} concurrent 'keys rotate' of one user: only the key of the last committed rotation authenticates`, async () => {
    for (let round = 0; round < ROTATE_ROUNDS; round++) {
      const userId = `rotor_${round}`
      const made = await runCli(['users', 'create', userId, '--json'], {env})
      expect(made.exitCode).toBe(0)
      const original = (JSON.parse(made.stdout) as {apiKey: string}).apiKey
      const results = await Promise.all(
        Array.from({length: ROTATORS}, (_, i) =>
          runCli(['keys', 'rotate', userId, '--yes', ...(i % 2 === 0 ? ['--json'] : [])], {env}),
        ),
      )
      figures.rotateRaces++
      figures.rotateProcesses += results.length
      expect(results.map((r) => r.exitCode)).toEqual(Array(ROTATORS).fill(0))
      const printed = results.map((r) => keysIn(r.stdout)[0] as string)
      expect(new Set(printed).size).toBe(ROTATORS)
      // The commit order is the audit order: rotations of one user are serialised by its row lock.
      const audits = await db.sql`
        select details->>'keyFingerprint' as fp from openmemory_admin.audit_log
        where target_user_id = ${userId} and details->>'action' = 'rotate' order by id`
      expect(audits.map((a) => a.fp).sort()).toEqual(printed.map((k) => sha256(k).slice(0, 8)).sort())
      const lastFp = audits[audits.length - 1]?.fp
      const last = printed.find((k) => sha256(k).slice(0, 8) === lastFp)
      expect(last).toBeDefined()
      for (const key of [original, ...printed]) {
        expect(await authenticates(db.sql, key)).toBe(key === last ? userId : null)
      }
    }
    expect(await checkInvariants(db.sql)).toEqual([])
  })

  it.runIf(hasCommand('prune-inactive'))(
    'a second prune-inactive while one runs exits 75 at once, and the first finishes the job',
    async () => {
      for (let round = 0; round < PRUNE_ROUNDS; round++) {
        // Many inactive users, small batches: a run long enough to overlap.
        await db.sql`
          with u as (
            insert into users (id, user_id, name, created_at, updated_at, last_active)
            select gen_random_uuid(), 'stale_' || ${round} || '_' || g, 'Stale', now() - interval '400 days',
                   now() - interval '400 days', now() - interval '400 days'
            from generate_series(1, 1500) g returning id)
          insert into apps (id, owner_id, name, is_active, created_at, updated_at)
          select gen_random_uuid(), id, 'default', true, now(), now() from u`
        await db.sql`
          insert into api_keys (id, user_id, key_hash, created_at, is_active)
          select gen_random_uuid(), u.id, md5(u.id::text) || md5(u.user_id), now(), true
          from users u where u.user_id like ${`stale_${round}_%`}`
        const args = ['prune-inactive', '--days', '30', '--mode', 'delete', '--yes', '--batch-size', '5']
        const first = runCli([...args, '--json'], {env, timeoutMs: 300_000})
        // Wait until the first run holds its run lock (its lease row).
        const deadline = Date.now() + 60_000
        for (;;) {
          const held = await db.sql`select 1 from openmemory_admin.run_locks where name = 'prune-inactive'`
          if (held.length > 0) break
          if (Date.now() > deadline) throw new Error('the first prune never took its lock')
          await new Promise((r) => setTimeout(r, 5))
        }
        const second = await runCli(args, {env})
        const done = await first
        figures.pruneRaces++
        expect(second.exitCode).toBe(75)
        expect(isOneLine(second.stderr.replace(/^openmemory: writing to .*\n/, ''))).toBe(true)
        expect(done.exitCode).toBe(0)
        const [{n}] = await db.sql`select count(*)::int as n from users where user_id like 'stale_%'`
        expect(n).toBe(0)
      }
    },
  )
})
