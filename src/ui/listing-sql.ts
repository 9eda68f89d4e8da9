/**
 * The listings' outputs made by PostgreSQL, for COPY (ui/copy-listing.ts):
 * each statement selects, over the listing's own statement, row for row what
 * the row path makes in Node from the same row: USER_COLUMNS, KEY_COLUMNS,
 * AUDIT_COLUMNS and memoryCountColumns (ui/render.ts), userCsvRecord
 * (ui/user-export.ts) and the items the services map rows to.
 * test/commands/listing-paths.test.ts runs both paths on hostile data and
 * compares the bytes.
 */
import {type SQL, sql} from 'drizzle-orm'
import {csvCell, type JsonField, jsonLine, jsonPretty, shownDate} from '../db/format-sql.js'
import {type AuditListInput, auditSql} from '../services/audit.js'
import {guardCellSql} from '../services/csv-guard.js'
import {keysListSql, type ListKeysInput} from '../services/key-lifecycle.js'
import type {MemoryCountPlan} from '../services/memories.js'
import {inactiveSql, type PruneInput} from '../services/prune.js'
import {type ListUsersInput, usersListSql} from '../services/users.js'
import type {ListingFormat} from './listing.js'
import {CSV_COLUMNS} from './user-export.js'

/** The JSON of a format: an array element (indented one level) or a JSON line. */
function jsonOf(format: 'json' | 'jsonl', fields: JsonField[], indent = '  '): SQL {
  return format === 'json' ? jsonPretty(fields, indent) : jsonLine(fields)
}

function cells(list: SQL[]): SQL {
  return sql.join(list, sql`, `)
}

// ---------------------------------------------------------------------------
// users list: every format but ui-profile

const keyStatusSql = sql`(case when u.has_key then (case when u.key_active then 'active' else 'revoked' end) else 'none' end)`
const appsSql = sql`coalesce(u.apps, '{}'::text[])`

/** A UserListItem's properties, in order (userListItem in services/users.ts). */
const USER_JSON: JsonField[] = [
  {key: 'id', value: sql`u.id`, kind: 'text'},
  {key: 'userId', value: sql`u.user_id`, kind: 'text'},
  {key: 'name', value: sql`u.name`, kind: 'text'},
  {key: 'email', value: sql`u.email`, kind: 'text'},
  {key: 'keyStatus', value: keyStatusSql, kind: 'text'},
  {key: 'deactivated', value: sql`u.deactivated`, kind: 'boolean'},
  {key: 'activeMemoryCount', value: sql`u.active_memories`, kind: 'number'},
  {key: 'appNames', value: appsSql, kind: 'text[]'},
  {key: 'createdAt', value: sql`u.created_at`, kind: 'text'},
  {key: 'lastActiveAt', value: sql`u.last_active`, kind: 'text'},
]

/** userCsvRecord's cells under CSV_COLUMNS; strings guarded unless raw (numbers are not, as csv-stringify casts them). */
function csvCells(raw: boolean): SQL {
  const guard = (v: SQL) => csvCell(raw ? v : guardCellSql(v))
  const cells: Record<(typeof CSV_COLUMNS)[number], SQL> = {
    userId: guard(sql`u.user_id`),
    name: guard(sql`coalesce(u.name, '')`),
    email: guard(sql`coalesce(u.email, '')`),
    keyStatus: guard(keyStatusSql),
    deactivated: guard(sql`(case when u.deactivated then 'true' else 'false' end)`),
    activeMemoryCount: sql`u.active_memories::text`,
    appNames: guard(sql`array_to_string(${appsSql}, ';')`),
    createdAt: guard(sql`coalesce(u.created_at, '')`),
    lastActiveAt: guard(sql`coalesce(u.last_active, '')`),
    id: guard(sql`u.id`),
  }
  return sql.join(
    CSV_COLUMNS.map((c) => sql`${cells[c]} as ${sql.identifier(c)}`),
    sql`, `,
  )
}

/** USER_COLUMNS' cells as text, in order. */
const TSV_CELLS = sql.join(
  [
    sql`u.user_id`,
    sql`coalesce(u.name, '')`,
    sql`coalesce(u.email, '')`,
    sql`${keyStatusSql} || (case when u.deactivated then ' (deactivated)' else '' end)`,
    sql`u.active_memories::text`,
    sql`array_to_string(${appsSql}, ', ')`,
    shownDate(sql`u.created_at`, ''),
    shownDate(sql`u.last_active`, 'never'),
  ],
  sql`, `,
)

/** The statement `users list` streams with COPY for a format, or undefined (the row path). */
export function usersCopySql(
  format: ListingFormat,
  input: ListUsersInput,
  now: Date,
  opts: {raw?: boolean} = {},
): SQL | undefined {
  const select =
    format === 'csv'
      ? csvCells(Boolean(opts.raw))
      : format === 'json'
        ? jsonPretty(USER_JSON, '  ')
        : format === 'jsonl'
          ? jsonLine(USER_JSON)
          : TSV_CELLS
  return sql`select ${select} from (${usersListSql(input, now)}) u`
}

// ---------------------------------------------------------------------------
// keys list

const keyStateSql = sql`(case when k.is_active then 'active' else 'revoked' end)`

/** A KeyListItem's properties, in order (keyListItem in services/key-lifecycle.ts). */
const KEY_JSON: JsonField[] = [
  {key: 'userId', value: sql`k.user_id`, kind: 'text'},
  {key: 'keyFingerprint', value: sql`left(k.key_hash, 8)`, kind: 'text'},
  {key: 'keyStatus', value: keyStateSql, kind: 'text'},
  {key: 'deactivated', value: sql`k.deactivated`, kind: 'boolean'},
  {key: 'createdAt', value: sql`k.created_at`, kind: 'text'},
  {key: 'lastUsedAt', value: sql`k.last_used`, kind: 'text'},
]

export function keysCopySql(format: ListingFormat, input: ListKeysInput): SQL | undefined {
  if (format === 'csv') return undefined
  const select =
    format === 'text'
      ? cells([
          sql`k.user_id`,
          sql`left(k.key_hash, 8)`,
          sql`${keyStateSql} || (case when k.deactivated then ' (deactivated)' else '' end)`,
          shownDate(sql`k.created_at`, ''),
          shownDate(sql`k.last_used`, 'never'),
        ])
      : jsonOf(format, KEY_JSON)
  return sql`select ${select} from (${keysListSql(input)}) k`
}

// ---------------------------------------------------------------------------
// audit list: tab-separated text only (its details are JSON objects that
// JavaScript reorders and renumbers; the JSON formats take the row path).

/** The recorded instant as formatDate shows it. */
const auditTime = sql`(to_char(a.at::timestamp, 'YYYY-MM-DD HH24:MI') || ' UTC')`

export function auditCopySql(format: ListingFormat, input: AuditListInput): SQL | undefined {
  if (format !== 'text') return undefined
  return sql`select ${cells([
    auditTime,
    sql`a.os_user || '@' || a.host`,
    sql`a.command`,
    sql`coalesce(a.target_user_id, '')`,
    sql`a.outcome`,
    sql`a.details::text`,
  ])} from (${auditSql(input)}) a`
}

/** The cell of auditCopySql holding the details' JSON. */
export const AUDIT_DETAILS_CELL = 5

// ---------------------------------------------------------------------------
// memories count: tab-separated text (the JSON nests byState; row path).

export function memoriesCopySql(format: ListingFormat, plan: MemoryCountPlan): SQL | undefined {
  if (format !== 'text') return undefined
  const states = plan.states.map((_, i) => sql`c.${sql.raw(`s${i}`)}::text`)
  return sql`select ${cells([
    sql`c.user_id`,
    ...(plan.byApp ? [sql`coalesce(c.app, '(no apps)')`] : []),
    ...states,
    sql`c.total::text`,
  ])} from (${plan.query}) c`
}

// ---------------------------------------------------------------------------
// prune-inactive --dry-run: userIds (a line each, or JSON strings) and PruneUser lines.

export function inactiveCopySql(format: ListingFormat, cutoff: Date, input: PruneInput): SQL | undefined {
  const select =
    format === 'text'
      ? sql`p.user_id`
      : format === 'json'
        ? sql`to_json(p.user_id)::text`
        : format === 'jsonl'
          ? jsonLine([
              {key: 'userId', value: sql`p.user_id`, kind: 'text'},
              {key: 'lastSeenAt', value: sql`p.last_seen`, kind: 'text'},
            ])
          : undefined
  return select && sql`select ${select} from (${inactiveSql(cutoff, input)}) p`
}
