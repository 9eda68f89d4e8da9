/**
 * `db verify`: the isolation and integrity audit. Each check is one
 * set-based query (joins and NOT EXISTS, no per-row work), so the audit
 * stays fast on millions of memories, and all run in one read-only snapshot.
 *
 * References are checked with NOT EXISTS even where the multi-user schema has
 * foreign keys: other schemas (or hand edits) may lack them. Memory state is
 * compared as text, since upstream databases have an extra `paused` state.
 */
import {type SQL, sql} from 'drizzle-orm'
import type {Db} from '../db/client.js'
import {inSnapshot, isDeactivated, rows, tableExists} from '../db/sql.js'
import {DEFAULT_APP} from './users.js'

/** How many sample references a check reports. */
export const SAMPLE_SIZE = 5

/** What a check's samples name. */
export type VerifySubject = 'memory' | 'app' | 'key' | 'user' | 'key hash' | 'category link'

/**
 * `error`: isolation or referential integrity is broken (exit 1). `notice`:
 * what the server itself writes in normal use: shown and counted, exit 0
 * unless --strict.
 */
export type Severity = 'error' | 'notice'

export interface VerifyCheck {
  id: string
  description: string
  severity: Severity
  subject: VerifySubject
  /** How many rows (or users, or hashes) have the problem; 0 is clean. */
  count: number
  /** Up to five of them, sorted: memory/app/key ids, userIds, or key fingerprints. */
  sample: string[]
}

export interface DbVerifyResult {
  /** Nothing found at all, of either severity. */
  clean: boolean
  /** The sum of every check's count. */
  problemCount: number
  /** The counts of checks with severity error: any makes `db verify` exit 1. */
  errorCount: number
  /** The counts of checks with severity notice (0 under --strict, which makes them errors). */
  noticeCount: number
  strict: boolean
  checks: VerifyCheck[]
}

interface CheckDef {
  id: string
  description: string
  severity: Severity
  subject: VerifySubject
  /** A query selecting one text column `ref` per problem. */
  refs: (deliberate: SQL, revokedByTool: SQL) => SQL
}

// The server's PUT /api/v1/memories/{id} sets state without archived_at or deleted_at
// (api/app/routers/memories.py lines 311-336 @65edc725): a notice, not corruption.
const DELETED_STATES: [string, string, string][] = [
  ['deleted', 'deleted_at', 'memories in state deleted without deleted_at'],
  ['archived', 'archived_at', 'memories in state archived without archived_at'],
]

export const CHECKS: CheckDef[] = [
  {
    id: 'memories-app-of-other-user',
    severity: 'error',
    // A memory of a missing user is reported by memories-missing-user instead.
    description: 'memories whose app belongs to another user (cross-user leak)',
    subject: 'memory',
    refs: () => sql`
      select m.id::text as ref from memories m join apps a on a.id = m.app_id
      where a.owner_id <> m.user_id
        and exists (select 1 from users u where u.id = m.user_id)`,
  },
  {
    id: 'memories-missing-user',
    severity: 'error',
    description: 'memories of a user that does not exist',
    subject: 'memory',
    refs: () => sql`
      select m.id::text as ref from memories m
      where not exists (select 1 from users u where u.id = m.user_id)`,
  },
  {
    id: 'memories-missing-app',
    severity: 'error',
    description: 'memories in an app that does not exist',
    subject: 'memory',
    refs: () => sql`
      select m.id::text as ref from memories m
      where not exists (select 1 from apps a where a.id = m.app_id)`,
  },
  {
    id: 'apps-missing-owner',
    severity: 'error',
    description: 'apps owned by a user that does not exist',
    subject: 'app',
    refs: () => sql`
      select a.id::text as ref from apps a
      where not exists (select 1 from users u where u.id = a.owner_id)`,
  },
  {
    id: 'keys-missing-user',
    severity: 'error',
    description: 'API keys of a user that does not exist',
    subject: 'key',
    refs: () => sql`
      select k.id::text as ref from api_keys k
      where not exists (select 1 from users u where u.id = k.user_id)`,
  },
  {
    id: 'category-links-missing-memory',
    severity: 'error',
    description: 'memory category links to a memory that does not exist',
    subject: 'category link',
    refs: () => sql`
      select mc.memory_id::text as ref from memory_categories mc
      where not exists (select 1 from memories m where m.id = mc.memory_id)`,
  },
  {
    id: 'users-without-key',
    // The server's MCP add_memory creates a bare User when none exists (api/app/mcp_server.py @1882743f).
    severity: 'notice',
    description: 'users with no API key',
    subject: 'user',
    refs: () => sql`
      select u.user_id::text as ref from users u
      where not exists (select 1 from api_keys k where k.user_id = u.id)`,
  },
  {
    id: 'users-without-default-app',
    // The server creates `default` on a user's first memory (api/app/routers/memories.py lines 66-79 @65edc725).
    severity: 'notice',
    description: `users with no app named '${DEFAULT_APP}'`,
    subject: 'user',
    refs: () => sql`
      select u.user_id::text as ref from users u
      where not exists (select 1 from apps a where a.owner_id = u.id and a.name = ${DEFAULT_APP})`,
  },
  {
    id: 'duplicate-key-hashes',
    severity: 'error',
    description: 'key hashes stored more than once (one key opens several users)',
    subject: 'key hash',
    refs: () => sql`
      select left(k.key_hash, 8) || ' (' ||
             string_agg(coalesce(u.user_id::text, k.user_id::text), ' ' order by coalesce(u.user_id::text, k.user_id::text))
             || ')' as ref
      from api_keys k left join users u on u.id = k.user_id
      group by k.key_hash having count(*) > 1`,
  },
  {
    id: 'half-deactivated-key-off',
    severity: 'error',
    description: 'users with an inactive key but active apps, not deactivated or revoked by this tool',
    subject: 'user',
    refs: (deliberate, revokedByTool) => sql`
      select u.user_id::text as ref from users u join api_keys k on k.user_id = u.id
      where not k.is_active
        and exists (select 1 from apps a where a.owner_id = u.id and a.is_active)
        and not (${deliberate})
        and not (${revokedByTool})`,
  },
  {
    id: 'half-deactivated-apps-off',
    // DELETE /api/v1/apps/{id} switches an app off while its owner keeps working
    // (api/app/routers/apps.py lines 94-118 @541f4739).
    severity: 'notice',
    description: 'users with an active key but every app inactive, not deactivated by this tool',
    subject: 'user',
    refs: (deliberate) => sql`
      select u.user_id::text as ref from users u join api_keys k on k.user_id = u.id
      where k.is_active
        and exists (select 1 from apps a where a.owner_id = u.id)
        and not exists (select 1 from apps a where a.owner_id = u.id and a.is_active)
        and not (${deliberate})`,
  },
  ...DELETED_STATES.map(
    ([state, column, description]): CheckDef => ({
      id: `memories-${state}-without-${column.replace('_', '-')}`,
      description,
      severity: 'notice',
      subject: 'memory',
      refs: () => sql`
        select m.id::text as ref from memories m
        where m.state::text = ${state} and m.${sql.identifier(column)} is null`,
    }),
  ),
  {
    id: 'memories-without-state',
    severity: 'error',
    description: 'memories with no state (invisible to the server)',
    subject: 'memory',
    refs: () => sql`select m.id::text as ref from memories m where m.state is null`,
  },
]

/**
 * Run every check in one read-only, repeatable-read transaction (a consistent
 * snapshot of a live database). Changes nothing.
 */
export async function verifyDatabase(db: Db, opts: {strict?: boolean} = {}): Promise<DbVerifyResult> {
  const strict = Boolean(opts.strict)
  const checks = await inSnapshot(db, async (tx) => {
    // A user with a deactivation record was switched off on purpose.
    const deliberate = (await tableExists(tx, 'openmemory_admin.deactivations'))
      ? isDeactivated('u')
      : sql`false`
    // `keys revoke` leaves the apps on by design: that very key (by fingerprint) revoked by this tool.
    const revokedByTool = (await tableExists(tx, 'openmemory_admin.audit_log'))
      ? sql`exists (select 1 from openmemory_admin.audit_log l
          where l.target_user_id = u.user_id and l.details->>'action' = 'revoke'
            and l.details->>'keyFingerprint' = left(k.key_hash, 8))`
      : sql`false`
    const out: VerifyCheck[] = []
    for (const check of CHECKS) {
      const found = await rows<{total: number | string; ref: string}>(
        tx,
        sql`select (count(*) over ())::int as total, ref
              from (${check.refs(deliberate, revokedByTool)}) problems
              order by ref limit ${SAMPLE_SIZE}`,
      )
      out.push({
        id: check.id,
        description: check.description,
        severity: strict ? 'error' : check.severity,
        subject: check.subject,
        count: found.length === 0 ? 0 : Number(found[0].total),
        sample: found.map((r) => r.ref),
      })
    }
    return out
  })
  const total = (severity?: Severity) =>
    checks
      .filter((c) => severity === undefined || c.severity === severity)
      .reduce((sum, c) => sum + c.count, 0)
  const problems = total()
  return {
    clean: problems === 0,
    problemCount: problems,
    errorCount: total('error'),
    noticeCount: total('notice'),
    strict,
    checks,
  }
}
