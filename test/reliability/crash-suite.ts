/**
 * Crash injection: the built CLI run as separate processes against one
 * PostgreSQL database and killed with SIGKILL at random moments (seeded), the
 * whole database checked after every kill and again after the interrupted
 * command is run again to completion.
 *
 * Half of the kills come at a uniformly random time after spawn; the other
 * half as soon as the process is seen holding an open transaction
 * (pg_stat_activity.backend_xid), plus a random 0-15 ms, so the window where
 * an atomicity bug would show is hit often, not by luck.
 */
import {
  authenticates,
  checkInvariants,
  createPgDb,
  hasCommand,
  inTransaction,
  keysIn,
  type PgTestDb,
  type ProcResult,
  prng,
  type Rng,
  runCli,
  type Sql,
  seedMemories,
} from './harness.js'

type State = 'absent' | 'present' | 'any'

interface LaneState {
  /** The key known to work for each present user (null when the killed run that made it never printed it). */
  keys: Map<string, string | null>
}

interface CrashCommand {
  id: string
  /** Relative frequency among the commands that apply. */
  weight: number
  /** Which users it applies to. */
  when: State
  /** Run only in lane 0 (it acts on the whole database). */
  global?: boolean
  available?: () => boolean
  prepare?: (sql: Sql, user: string, rng: Rng, lane: LaneState) => Promise<void>
  argv: (user: string, json: boolean) => string[]
  /** After the rerun: what must hold. Returns violations. */
  verify: (sql: Sql, user: string, rerun: ProcResult, lane: LaneState) => Promise<string[]>
}

const PRUNE_DAYS = 30

/** The commands the harness kills. Adding one is one entry. */
export const CRASH_COMMANDS: CrashCommand[] = [
  {
    id: 'users create',
    weight: 1,
    when: 'absent',
    // The suite deletes and recreates the same ids on purpose: reuse is allowed.
    argv: (u, json) => [
      'users',
      'create',
      u,
      `${u} Name`,
      `${u}@example.com`,
      '--reuse-deleted-id',
      ...(json ? ['--json'] : []),
    ],
    async verify(sql, u, rerun, lane) {
      const v: string[] = []
      if (rerun.exitCode !== 0 && rerun.exitCode !== 4)
        v.push(`rerun exited ${rerun.exitCode}: ${rerun.stderr}`)
      const [row] = await sql`select 1 from users where user_id = ${u}`
      if (!row) v.push(`user ${u} missing after rerun`)
      if (rerun.exitCode === 0) {
        const key = keysIn(rerun.stdout)[0]
        if (!key || (await authenticates(sql, key)) !== u) v.push(`printed key of ${u} does not authenticate`)
        lane.keys.set(u, key ?? null)
      }
      return v
    },
  },
  {
    id: 'keys rotate',
    weight: 1,
    when: 'present',
    argv: (u, json) => ['keys', 'rotate', u, '--yes', ...(json ? ['--json'] : [])],
    async verify(sql, u, rerun, lane) {
      const v: string[] = []
      if (rerun.exitCode !== 0) v.push(`rerun exited ${rerun.exitCode}: ${rerun.stderr}`)
      const key = keysIn(rerun.stdout)[0]
      if (!key || (await authenticates(sql, key)) !== u) v.push(`rotated key of ${u} does not authenticate`)
      const old = lane.keys.get(u)
      if (old && (await authenticates(sql, old)) !== null) v.push(`old key of ${u} still authenticates`)
      lane.keys.set(u, key ?? null)
      return v
    },
  },
  {
    id: 'users delete',
    weight: 1,
    when: 'present',
    // Memories make the transaction long enough to be hit.
    prepare: (sql, u, rng) => seedMemories(sql, u, rng.int(0, 400)),
    argv: (u, json) => ['users', 'delete', u, '--yes', ...(json ? ['--json'] : [])],
    async verify(sql, u, rerun, lane) {
      const v: string[] = []
      if (rerun.exitCode !== 0 && rerun.exitCode !== 3)
        v.push(`rerun exited ${rerun.exitCode}: ${rerun.stderr}`)
      const [row] = await sql`select 1 from users where user_id = ${u}`
      if (row) v.push(`user ${u} still present after rerun`)
      const old = lane.keys.get(u)
      if (old && (await authenticates(sql, old)) !== null) v.push(`key of deleted ${u} still authenticates`)
      lane.keys.delete(u)
      return v
    },
  },
  {
    id: 'prune-inactive',
    weight: 0.25,
    when: 'any',
    global: true,
    available: () => hasCommand('prune-inactive'),
    // Age a random half of the present users, each with some memories, beyond the cutoff.
    async prepare(sql, _u, rng, lane) {
      for (const u of lane.keys.keys()) {
        if (rng.next() < 0.5) continue
        await sql`update users set last_active = (now() at time zone 'utc') - interval '400 days' where user_id = ${u}`
        await seedMemories(sql, u, rng.int(0, 50))
      }
    },
    argv: (_u, json) => [
      'prune-inactive',
      '--days',
      String(PRUNE_DAYS),
      '--mode',
      'delete',
      '--yes',
      '--batch-size',
      '2',
      ...(json ? ['--json'] : []),
    ],
    async verify(sql, _u, rerun, lane) {
      const v: string[] = []
      if (rerun.exitCode !== 0) v.push(`rerun exited ${rerun.exitCode}: ${rerun.stderr}`)
      const left = await sql`
        select user_id from users
        where coalesce(last_active, created_at) < (now() at time zone 'utc') - make_interval(days => ${PRUNE_DAYS})`
      if (left.length > 0) v.push(`inactive users left after rerun: ${left.map((r) => r.user_id).join(', ')}`)
      const present = new Set((await sql`select user_id from users`).map((r) => r.user_id as string))
      for (const u of [...lane.keys.keys()]) if (!present.has(u)) lane.keys.delete(u)
      return v
    },
  },
]

function weightedPick(rng: Rng, items: CrashCommand[]): CrashCommand {
  let x = rng.next() * items.reduce((a, c) => a + c.weight, 0)
  for (const c of items) {
    x -= c.weight
    if (x < 0) return c
  }
  return items[items.length - 1] as CrashCommand
}

export interface CrashFigures {
  seed: number
  kills: number
  killsInTransaction: number
  runs: number
  reruns: number
  busyRetries: number
  perCommand: Record<string, {runs: number; kills: number}>
  invariantChecks: number
  violations: string[]
  durationMs: number
}

export async function runCrashInjection(opts: {
  kills: number
  seed: number
  lanes?: number
  usersPerLane?: number
  /** Stop after this many iterations even if fewer kills landed. */
  maxIterations?: number
  log?: (line: string) => void
}): Promise<CrashFigures> {
  const started = Date.now()
  const db: PgTestDb = await createPgDb('crash')
  const watch = (await import('postgres')).default(db.url.replace(db.name, 'postgres'), {
    max: 1,
    onnotice: () => {},
  })
  const commands = CRASH_COMMANDS.filter((c) => c.available?.() ?? true)
  const figures: CrashFigures = {
    seed: opts.seed,
    kills: 0,
    killsInTransaction: 0,
    runs: 0,
    reruns: 0,
    busyRetries: 0,
    perCommand: Object.fromEntries(commands.map((c) => [c.id, {runs: 0, kills: 0}])),
    invariantChecks: 0,
    violations: [],
    durationMs: 0,
  }
  const env = {OPENMEMORY_DATABASE_URL: db.url, DATABASE_URL: undefined, DEBUG: undefined}
  const lanes = opts.lanes ?? 1
  const perLane = opts.usersPerLane ?? 6
  const maxIterations = opts.maxIterations ?? opts.kills * 4
  let iterations = 0

  const check = async (where: string) => {
    figures.invariantChecks++
    for (const v of await checkInvariants(db.sql)) figures.violations.push(`${where}: ${v}`)
  }

  const lane = async (index: number) => {
    const rng = prng(opts.seed * 101 + index)
    const state: LaneState = {keys: new Map()}
    const pool = Array.from({length: perLane}, (_, i) => `crash_l${index}_u${i}`)
    while (figures.kills < opts.kills && iterations < maxIterations) {
      iterations++
      const user = rng.pick(pool)
      const present = state.keys.has(user)
      const candidates = commands.filter(
        (c) =>
          (c.when === 'any' || c.when === (present ? 'present' : 'absent')) && (!c.global || index === 0),
      )
      const cmd = weightedPick(rng, candidates)
      const json = rng.next() < 0.5
      await cmd.prepare?.(db.sql, user, rng, state)
      const inTx = rng.next() < 0.5
      const argv = cmd.argv(user, json)
      const r = await runCli(argv, {
        env,
        ...(inTx
          ? {killWhen: inTransaction(watch, db.name, 10_000, rng.int(0, 15))}
          : {killAfterMs: rng.int(0, 1300)}),
      })
      figures.runs++
      figures.perCommand[cmd.id].runs++
      const where = `#${iterations} lane ${index} ${argv.join(' ')} (${r.killed ? `killed after ${r.ms} ms` : `exit ${r.exitCode}`})`
      if (r.killed) {
        figures.kills++
        figures.perCommand[cmd.id].kills++
        if (inTx) figures.killsInTransaction++
      } else if (r.exitCode !== 0) {
        figures.violations.push(`${where}: unkilled run failed: ${r.stderr.trim()}`)
      }
      // A key shown on stdout must be a committed, working key.
      for (const key of keysIn(r.stdout)) {
        if ((await authenticates(db.sql, key)) === null)
          figures.violations.push(`${where}: printed key does not work`)
      }
      await check(`${where}, after the kill`)
      // Run the interrupted command again, to completion.
      // Exit 75 is the right answer while the killed session's run lock is not yet
      // released by the server; wait and try again, as cron would.
      let rerun = await runCli(argv, {env})
      for (let i = 0; rerun.exitCode === 75 && i < 40; i++) {
        figures.busyRetries++
        await new Promise((r) => setTimeout(r, 250))
        rerun = await runCli(argv, {env})
      }
      figures.reruns++
      for (const v of await cmd.verify(db.sql, user, rerun, state))
        figures.violations.push(`${where}, rerun: ${v}`)
      if (cmd.id === 'users create' && !state.keys.has(user)) state.keys.set(user, null)
      await check(`${where}, after the rerun`)
      if (iterations % 10 === 0)
        opts.log?.(
          `crash: ${iterations} runs, ${figures.kills} kills, ${figures.violations.length} violations`,
        )
    }
  }

  try {
    await Promise.all(Array.from({length: lanes}, (_, i) => lane(i)))
  } finally {
    await watch.end({timeout: 5}).catch(() => {})
    await db.drop()
  }
  figures.durationMs = Date.now() - started
  return figures
}
