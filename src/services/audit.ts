/**
 * The audit trail: one row per affected user for every change, written in
 * the same transaction as the change. Never holds a plain key.
 */
import {type SQL, sql} from 'drizzle-orm'
import {chunks} from '../db/arrays.js'
import type {Database, Db} from '../db/client.js'
import {auditLog} from '../db/schema.js'
import {rows} from '../db/sql.js'
import {fetchSize, utcIso} from '../db/stream.js'
import type {ServiceContext} from './context.js'

export type AuditOutcome = 'created' | 'changed' | 'unchanged' | 'deleted' | 'failed'

export interface AuditEntry {
  targetUserId: string | null
  outcome: AuditOutcome
  details?: Record<string, unknown>
}

export async function recordAudit(db: Db, ctx: ServiceContext, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return
  const at = ctx.now()
  // Chunked only to keep each statement's one parameter a few megabytes at most.
  for (const chunk of chunks(entries, 5000)) await insertAudit(db, ctx, at, chunk)
}

/** One audit row per item, all with one outcome (bulk writers: creation, rotation by age). */
export function auditEach<T>(
  db: Db,
  ctx: ServiceContext,
  outcome: AuditEntry['outcome'],
  items: T[],
  entry: (item: T) => [targetUserId: string, details: Record<string, unknown>],
): Promise<void> {
  return recordAudit(
    db,
    ctx,
    items.map((item) => {
      const [targetUserId, details] = entry(item)
      return {targetUserId, outcome, details}
    }),
  )
}

/**
 * One statement for any number of rows, bound as ONE jsonb parameter (the
 * entries' JSON) that PostgreSQL unpacks with jsonb_to_recordset: no per-row
 * parameters, and none of the per-value objects a multi-row VALUES list
 * builds on the client. Rows keep the entries' order (their ids ascend with it).
 */
async function insertAudit(db: Db, ctx: ServiceContext, at: Date, entries: AuditEntry[]): Promise<void> {
  const payload = JSON.stringify(entries.map((e) => ({t: e.targetUserId, o: e.outcome, d: e.details ?? {}})))
  await db.execute(sql`
    insert into openmemory_admin.audit_log (at, os_user, host, command, target_user_id, outcome, details)
    select ${at.toISOString()}::timestamptz, ${ctx.actor.osUser}, ${ctx.actor.host}, ${ctx.command}, x.t, x.o, x.d
    from rows from (jsonb_to_recordset(${payload}::jsonb) as (t text, o text, d jsonb)) with ordinality as x(t, o, d, n)
    order by x.n`)
}

export interface AuditRecord {
  id: number
  recordedAt: string
  osUser: string
  host: string
  command: string
  /** The userId the change was about (null for changes to no one user). */
  userId: string | null
  outcome: string
  details: Record<string, unknown>
}

export interface AuditListInput {
  userId?: string
  since?: Date
  limit?: number
}

/** Newest first, by the indexes on (at) and (target_user_id, at). */
export function auditSql(input: AuditListInput): SQL {
  const where: SQL[] = [sql`true`]
  if (input.userId) where.push(sql`${auditLog.targetUserId} = ${input.userId}`)
  if (input.since) where.push(sql`${auditLog.at} >= ${input.since.toISOString()}::timestamptz`)
  const limit = input.limit === undefined ? sql`` : sql` limit ${input.limit}`
  return sql`select ${auditLog.id} as id, (${auditLog.at} at time zone 'UTC')::text as at,
      ${auditLog.osUser} as os_user, ${auditLog.host} as host, ${auditLog.command} as command,
      ${auditLog.targetUserId} as target_user_id, ${auditLog.outcome} as outcome, ${auditLog.details} as details
    from ${auditLog}
    where ${sql.join(where, sql` and `)}
    order by ${auditLog.at} desc, ${auditLog.id} desc${limit}`
}

interface AuditRow {
  id: number | string
  at: string
  os_user: string
  host: string
  command: string
  target_user_id: string | null
  outcome: string
  /** jsonb, parsed by the driver: any JSON value, though this tool writes objects. */
  details: Record<string, unknown> | null
}

function auditRecord(r: AuditRow): AuditRecord {
  return {
    id: Number(r.id),
    recordedAt: utcIso(r.at) ?? '',
    osUser: r.os_user,
    host: r.host,
    command: r.command,
    userId: r.target_user_id,
    outcome: r.outcome,
    // Already parsed (a jsonb string is a string, not JSON text to parse again).
    details: r.details ?? {},
  }
}

/** The whole trail (tests); the command streams it. */
export async function listAudit(db: Db, input: AuditListInput = {}): Promise<AuditRecord[]> {
  return (await rows<AuditRow>(db, auditSql({limit: 100, ...input}))).map(auditRecord)
}

/** The trail in chunks as the database produces them; leaving the loop cancels the query. */
export async function* streamAudit(
  database: Pick<Database, 'cursor'>,
  input: AuditListInput,
  chunkSize = fetchSize(),
): AsyncGenerator<AuditRecord[]> {
  for await (const chunk of database.cursor<AuditRow>(auditSql(input), chunkSize))
    yield chunk.map(auditRecord)
}

/** How many records match without --limit. */
export async function countAudit(db: Db, input: AuditListInput): Promise<number> {
  const [row] = await rows<{n: number}>(
    db,
    sql`select count(*)::int as n from (${auditSql({...input, limit: undefined})}) q`,
  )
  return Number(row?.n ?? 0)
}
