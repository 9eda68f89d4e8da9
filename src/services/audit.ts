/**
 * The audit trail: one row per affected user for every change, written in
 * the same transaction as the change. Never holds a plain key.
 */
import {and, desc, eq, gte, type SQL} from 'drizzle-orm'
import type {Db} from '../db/client.js'
import {auditLog} from '../db/schema.js'
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
  await db.insert(auditLog).values(
    entries.map((e) => ({
      at,
      osUser: ctx.actor.osUser,
      host: ctx.actor.host,
      command: ctx.command,
      targetUserId: e.targetUserId,
      outcome: e.outcome,
      details: e.details ?? {},
    })),
  )
}

export interface AuditRecord {
  id: number
  at: string
  osUser: string
  host: string
  command: string
  targetUserId: string | null
  outcome: string
  details: Record<string, unknown>
}

export interface AuditListInput {
  userId?: string
  since?: Date
  limit?: number
}

export async function listAudit(db: Db, input: AuditListInput = {}): Promise<AuditRecord[]> {
  const where: SQL[] = []
  if (input.userId) where.push(eq(auditLog.targetUserId, input.userId))
  if (input.since) where.push(gte(auditLog.at, input.since))
  const rows = await db
    .select()
    .from(auditLog)
    .where(where.length > 0 ? and(...where) : undefined)
    .orderBy(desc(auditLog.at), desc(auditLog.id))
    .limit(input.limit ?? 100)
  return rows.map((r) => ({...r, at: r.at.toISOString()}))
}
