/**
 * Shared machinery of the reliability suite: a seeded PRNG, the built CLI run
 * as a child process that can be killed at a chosen moment, direct PostgreSQL
 * access for the checks (postgres.js, never the tool's own code), and the
 * whole-database invariants.
 */
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import path from 'node:path'
import postgres from 'postgres'
import {ADMIN_URL} from '../helpers/databases.js'
import {type BinOptions, type BinResult, CLI_ROOT, runBin} from '../helpers/run.js'

/** True in the heavy run (`npm run test:heavy`). */
export const HEAVY = process.env.OPENMEMORY_HEAVY === '1'

/** A seeded PRNG (mulberry32): the same seed gives the same run. */
export function prng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
  }
}
export type Rng = ReturnType<typeof prng>

/** The seed of this run: OPENMEMORY_RELIABILITY_SEED, else a fixed default (reproducible). */
export function seedFromEnv(fallback: number): number {
  const s = Number(process.env.OPENMEMORY_RELIABILITY_SEED)
  return Number.isInteger(s) ? s : fallback
}

/** The built CLI: the run's private build (test/helpers/global-setup.ts), which no other run touches. */
export function cliRoot(): string {
  return CLI_ROOT
}

/** Whether the built CLI has a command (e.g. `prune-inactive`). */
export function hasCommand(id: string): boolean {
  const manifest = JSON.parse(readFileSync(path.join(cliRoot(), 'oclif.manifest.json'), 'utf8')) as {
    commands: Record<string, unknown>
  }
  return id.replaceAll(' ', ':') in manifest.commands
}

export type ProcResult = BinResult
export type SpawnOptions = Omit<BinOptions, 'cwd' | 'headLines'>

/**
 * Run the built CLI as a separate process (test/helpers/run.ts's runner),
 * never prompting and without colour; optionally kill it with SIGKILL.
 */
export function runCli(argv: string[], opts: SpawnOptions = {}): Promise<ProcResult> {
  return runBin(argv, {...opts, env: {OPENMEMORY_NO_PROMPT: '1', NO_COLOR: '1', ...opts.env}})
}

/** Every `mem_lab_…` key in a text. */
export function keysIn(text: string): string[] {
  return text.match(/mem_lab_[a-z0-9]{12,64}/g) ?? []
}

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

// ---------------------------------------------------------------------------
// Databases, accessed directly (postgres.js), independently of the tool's code.

export type Sql = postgres.Sql

export interface PgTestDb {
  name: string
  url: string
  sql: Sql
  drop(): Promise<void>
}

export function adminSql(): Sql {
  return postgres(ADMIN_URL, {max: 1, onnotice: () => {}})
}

export function urlFor(name: string, user?: string, password?: string): string {
  const u = new URL(ADMIN_URL)
  u.pathname = `/${name}`
  if (user) u.username = user
  if (password) u.password = password
  return u.toString()
}

/**
 * A fresh PostgreSQL database loaded from the multi-user server's schema and
 * migrated by the built CLI (`db migrate`), as an operator would set it up.
 */
export async function createPgDb(tag: string, opts: {migrate?: boolean} = {}): Promise<PgTestDb> {
  const {fixtureSql, testDbName} = await import('../helpers/databases.js')
  const name = testDbName(`om_rel_${tag}`)
  const admin = adminSql()
  await admin.unsafe(`create database ${name}`)
  await admin.end()
  const url = urlFor(name)
  const sql = postgres(url, {max: 2, onnotice: () => {}})
  await sql.unsafe(fixtureSql('multiuser'))
  if (opts.migrate !== false) {
    const r = await runCli(['db', 'migrate', '--database-url', url])
    if (r.exitCode !== 0) throw new Error(`db migrate failed: ${r.stderr}`)
  }
  return {
    name,
    url,
    sql,
    async drop() {
      await sql.end({timeout: 5}).catch(() => {})
      const a = adminSql()
      await a.unsafe(`drop database if exists ${name} with (force)`)
      await a.end()
    },
  }
}

/** Resolves true once a CLI session on `dbName` has a transaction open (polling pg_stat_activity). */
export function inTransaction(watch: Sql, dbName: string, maxMs = 10_000, extraDelayMs = 0) {
  return async (_pid: number): Promise<boolean> => {
    const deadline = Date.now() + maxMs
    while (Date.now() < deadline) {
      const rows = await watch`
        select 1 from pg_stat_activity
        where datname = ${dbName} and application_name = 'openmemory-cli' and backend_xid is not null`
      if (rows.length > 0) {
        if (extraDelayMs > 0) await new Promise((r) => setTimeout(r, extraDelayMs))
        return true
      }
      await new Promise((r) => setTimeout(r, 2))
    }
    return false
  }
}

// ---------------------------------------------------------------------------
// Invariants

/**
 * Check the whole database in one snapshot. Returns the violations (empty
 * when all hold):
 *
 * 1. every user has exactly one key row and a `default` app (users made by the
 *    tool always get both, and none of the commands removes one without the user);
 * 2. no row references a missing user, app, memory or category;
 * 3. every audited change is fully applied or not at all: a user exists iff
 *    the last create/delete audit row for that userId says `created`, and the
 *    user's key is the one named by the last audited key change (create or
 *    rotate); no change is applied without its audit row.
 */
export async function checkInvariants(sql: Sql): Promise<string[]> {
  return sql.begin('isolation level repeatable read read only', async (tx) => {
    const v: string[] = []
    const keyOrApp = await tx`
      select u.user_id,
             (select count(*)::int from api_keys k where k.user_id = u.id) as keys,
             exists (select 1 from apps a where a.owner_id = u.id and a.name = 'default') as has_default
      from users u`
    for (const r of keyOrApp) {
      if (r.keys !== 1) v.push(`user ${r.user_id} has ${r.keys} key rows`)
      if (!r.has_default) v.push(`user ${r.user_id} has no default app`)
    }
    const orphans = await tx`
      select 'api_keys' as t, count(*)::int as n from api_keys k where not exists (select 1 from users u where u.id = k.user_id)
      union all select 'apps', count(*)::int from apps a where not exists (select 1 from users u where u.id = a.owner_id)
      union all select 'memories.user', count(*)::int from memories m where not exists (select 1 from users u where u.id = m.user_id)
      union all select 'memories.app', count(*)::int from memories m where not exists (select 1 from apps a where a.id = m.app_id)
      union all select 'memory_categories.memory', count(*)::int from memory_categories mc where not exists (select 1 from memories m where m.id = mc.memory_id)
      union all select 'memory_categories.category', count(*)::int from memory_categories mc where not exists (select 1 from categories c where c.id = mc.category_id)
      union all select 'deactivations', count(*)::int from openmemory_admin.deactivations d where not exists (select 1 from users u where u.id = d.user_uuid)`
    for (const r of orphans) if (r.n > 0) v.push(`${r.n} orphan rows in ${r.t}`)

    const existence = await tx`
      with last as (
        select distinct on (target_user_id) target_user_id, outcome
        from openmemory_admin.audit_log where outcome in ('created', 'deleted')
        order by target_user_id, id desc)
      select coalesce(u.user_id, l.target_user_id) as user_id, u.id is not null as present, l.outcome
      from users u full join last l on l.target_user_id = u.user_id
      where (u.id is not null) <> (coalesce(l.outcome, '') = 'created')`
    for (const r of existence) {
      v.push(
        r.present
          ? `user ${r.user_id} exists but its last audit row says ${r.outcome ?? 'nothing'}`
          : `user ${r.user_id} is missing but was audited as created`,
      )
    }
    const keys = await tx`
      with last as (
        select distinct on (target_user_id) target_user_id, details->>'keyFingerprint' as fp
        from openmemory_admin.audit_log
        where outcome = 'created' or (outcome = 'changed' and details->>'action' = 'rotate')
        order by target_user_id, id desc)
      select u.user_id, left(k.key_hash, 8) as fp, l.fp as audited
      from users u join api_keys k on k.user_id = u.id left join last l on l.target_user_id = u.user_id
      where l.fp is distinct from left(k.key_hash, 8)`
    for (const r of keys) v.push(`user ${r.user_id} has key ${r.fp} but the audit trail names ${r.audited}`)
    return v
  })
}

/** The userIds an active key (the server's rule: sha256 hex, active row) authenticates as. */
export async function authenticates(sql: Sql, key: string): Promise<string | null> {
  const rows = await sql`
    select u.user_id from api_keys k join users u on u.id = k.user_id
    where k.key_hash = ${sha256(key)} and k.is_active`
  return (rows[0]?.user_id as string | undefined) ?? null
}

/** Insert memories (with a category link each) for a user's default app, as the server would. */
export async function seedMemories(sql: Sql, userId: string, n: number): Promise<void> {
  if (n <= 0) return
  await sql`
    with u as (select u.id as uid, a.id as aid from users u join apps a on a.owner_id = u.id and a.name = 'default'
               where u.user_id = ${userId}),
         c as (insert into categories (id, name, created_at)
               values (gen_random_uuid(), ${`cat_${userId}_${Math.random().toString(36).slice(2)}`}, now()) returning id),
         m as (insert into memories (id, user_id, app_id, content, state, created_at, updated_at)
               select gen_random_uuid(), u.uid, u.aid, 'remember ' || g, 'active', now(), now()
               from u, generate_series(1, ${n}) g returning id)
    insert into memory_categories (memory_id, category_id, assigned_at) select m.id, c.id, now() from m, c`
}

/** A one-line error, no stack trace. */
export function isOneLine(stderr: string): boolean {
  const lines = stderr.trim().split('\n')
  return lines.length === 1 && !/^\s+at /m.test(stderr)
}
