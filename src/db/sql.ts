/**
 * Raw SQL, once: the one way to run a statement and get its rows, and the
 * SQL fragments several services share. A predicate the tool relies on
 * (who is deactivated, when a user was last seen) is written here and only
 * here, so every command agrees on it.
 */
import {type SQL, sql} from 'drizzle-orm'
import type {Db} from './client.js'
import {naiveAt} from './time.js'

/** Run raw SQL and get its rows. Works on a database or a transaction. */
export async function rows<T = Record<string, unknown>>(db: Db, query: SQL): Promise<T[]> {
  return (await db.execute(query)) as unknown as T[]
}

/** Whether a table exists: `name` is schema-qualified (`public.memory_access_logs`). */
export async function tableExists(db: Db, name: string): Promise<boolean> {
  const [row] = await rows<{present: boolean}>(db, sql`select to_regclass(${name}) is not null as present`)
  return row?.present === true
}

/** The alias (or table name) a fragment refers to; `users` when the query does not alias it. */
function ref(alias: string): SQL {
  return sql`${sql.identifier(alias)}`
}

/**
 * "When the user was last seen": `last_active`, else `created_at` for a user
 * who was never active. The inactivity of `--since`, `--inactive` and
 * `prune-inactive` is measured against this.
 */
export function lastSeen(alias = 'users'): SQL {
  return sql`coalesce(${ref(alias)}.last_active, ${ref(alias)}.created_at)`
}

/** "Last seen before this instant" (the naive columns compared in the database's TimeZone: db/time.ts). */
export function lastSeenBefore(cutoff: Date, alias = 'users'): SQL {
  return sql`${lastSeen(alias)} < ${naiveAt(cutoff)}`
}

/** "The user was deactivated by this tool": a row in openmemory_admin.deactivations. */
export function isDeactivated(alias = 'users'): SQL {
  return sql`exists (select 1 from openmemory_admin.deactivations d where d.user_uuid = ${ref(alias)}.id)`
}

/**
 * The labels of the database's `memorystate` enum, in order; empty when the
 * enum does not exist. Upstream databases have an extra `paused`.
 */
export async function memoryStateLabels(db: Db): Promise<string[]> {
  const labels = await rows<{label: string}>(
    db,
    sql`select e.enumlabel as label from pg_enum e
        join pg_type t on t.oid = e.enumtypid
        join pg_namespace n on n.oid = t.typnamespace
        where t.typname = 'memorystate' and n.nspname = 'public'
        order by e.enumsortorder`,
  )
  return labels.map((r) => r.label)
}

/**
 * Run `fn` in one read-only, repeatable-read transaction: a consistent
 * snapshot that takes no row locks and cannot write (dry runs, audits).
 */
export function inSnapshot<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  return db.transaction((tx) => fn(tx as unknown as Db), {
    isolationLevel: 'repeatable read',
    accessMode: 'read only',
  })
}
