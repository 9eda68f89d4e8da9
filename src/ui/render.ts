/**
 * Human output of the service results, shared by the commands and the
 * interactive menu so both say the same thing the same way.
 */
import type {AuditRecord} from '../services/audit.js'
import type {KeyListItem, KeysRevokeResult, KeysRotateResult} from '../services/key-lifecycle.js'
import type {
  DeactivateResult,
  DeleteResult,
  ReactivateResult,
  UsersShowResult,
} from '../services/lifecycle.js'
import type {MemoriesCountResult, MemoryCountRow} from '../services/memories.js'
import type {PruneMode, PruneResult} from '../services/prune.js'
import type {DbStatusResult, SchemaKind} from '../services/status.js'
import type {UserListItem, UsersCreateResult} from '../services/users.js'
import {type Column, colors, formatDate, renderTable} from './format.js'
import {sanitize as s} from './sanitize.js'

/** A key state's longest word, "(deactivated)": the narrowest a state column wraps to. */
const STATE_WIDTH = '(deactivated)'.length

/** A userId up to this long is never wrapped while the table can fit another way (it is copied whole). */
const ID_WIDTH = 20

/** `users list`: one row per user. */
export const USER_COLUMNS: Column<UserListItem>[] = [
  {header: 'USER ID', value: (u) => u.userId, min: ID_WIDTH},
  {header: 'NAME', value: (u) => u.name ?? ''},
  {header: 'EMAIL', value: (u) => u.email ?? ''},
  // A state wraps at its space ("revoked" over "(deactivated)"), never mid-word.
  {
    header: 'KEY',
    value: (u) => (u.deactivated ? `${u.keyStatus} (deactivated)` : u.keyStatus),
    min: STATE_WIDTH,
  },
  {header: 'MEMORIES', value: (u) => u.activeMemoryCount, align: 'right', drop: 3},
  {header: 'APPS', value: (u) => u.appNames.join(', '), drop: 1},
  {header: 'CREATED', value: (u) => formatDate(u.createdAt, ''), fixed: true, drop: 2},
  {header: 'LAST ACTIVE', value: (u) => formatDate(u.lastActiveAt), fixed: true, drop: 4},
]

export function userTable(users: UserListItem[]): string {
  return renderTable(users, USER_COLUMNS)
}

/** `keys list`: one row per key, by fingerprint. */
export const KEY_COLUMNS: Column<KeyListItem>[] = [
  {header: 'USER ID', value: (k) => k.userId, min: ID_WIDTH},
  {header: 'FINGERPRINT', value: (k) => k.keyFingerprint, fixed: true},
  {
    header: 'STATUS',
    value: (k) => (k.deactivated ? `${k.keyStatus} (deactivated)` : k.keyStatus),
    min: STATE_WIDTH,
  },
  {header: 'CREATED', value: (k) => formatDate(k.createdAt, ''), fixed: true, drop: 1},
  {header: 'LAST USED', value: (k) => formatDate(k.lastUsedAt), fixed: true},
]

/** `audit list`: one row per affected user of a change. */
export const AUDIT_COLUMNS: Column<AuditRecord>[] = [
  {header: 'TIME', value: (r) => formatDate(r.recordedAt), fixed: true},
  {header: 'BY', value: (r) => `${r.osUser}@${r.host}`, drop: 2},
  {header: 'COMMAND', value: (r) => r.command},
  {header: 'USER ID', value: (r) => r.userId ?? '', min: ID_WIDTH},
  {header: 'OUTCOME', value: (r) => r.outcome, fixed: true},
  {header: 'DETAILS', value: (r) => JSON.stringify(r.details), drop: 1},
]

/** `users show`: the user, their key, and a table of apps with memory counts by state. */
export function userDetails(u: UsersShowResult): string {
  const c = colors()
  const lines = [
    `${c.bold(s(u.userId))}  ${s(u.name)}${u.email ? ` <${s(u.email)}>` : ''}`,
    `  id:           ${u.id}`,
    `  created:      ${formatDate(u.createdAt, '-')}`,
    `  last active:  ${formatDate(u.lastActiveAt)}`,
    `  status:       ${u.deactivated ? c.yellow(`deactivated ${formatDate(u.deactivatedAt)}${u.deactivationReason ? ` (${s(u.deactivationReason)})` : ''}`) : c.green('active')}`,
    u.key
      ? `  key:          ${u.key.keyStatus === 'active' ? c.green('active') : c.red('revoked')}, fingerprint ${u.key.keyFingerprint}, created ${formatDate(u.key.createdAt, '-')}, last used ${formatDate(u.key.lastUsedAt)}`
      : `  key:          ${c.red('none')} (run 'openmemory keys rotate ${s(u.userId)}' to issue one)`,
    '',
    '  memories by state, per app:',
  ]
  const states = Object.keys(u.byState)
  lines.push(
    renderTable(
      [
        ...u.apps.map((a) => ({
          name: a.name,
          active: a.enabled ? 'yes' : 'no',
          counts: a.byState,
          total: a.memoryCount,
        })),
        {name: 'TOTAL', active: '', counts: u.byState, total: u.memoryCount},
      ],
      [
        {header: 'APP', value: (r) => r.name},
        // apps.is_active: whether the server accepts memory writes through the app.
        {header: 'ENABLED', value: (r) => r.active},
        ...states.map((s) => ({
          header: s.toUpperCase(),
          value: (r: {counts: Record<string, number>}) => r.counts[s] ?? 0,
          align: 'right' as const,
        })),
        {header: 'TOTAL', value: (r) => r.total, align: 'right'},
      ],
    ),
  )
  return lines.join('\n')
}

/** `users delete`: rows per table that are (or would be) removed. */
export function deletionTable(r: DeleteResult): string {
  return renderTable(
    Object.entries(r.rowsByTable).map(([table, n]) => ({table, n})),
    [
      {header: 'TABLE', value: (x) => x.table},
      {header: 'ROWS', value: (x) => x.n, align: 'right'},
    ],
  )
}

/**
 * `users delete`: the other users whose rows go too (memories they wrote
 * through the deleted user's apps), by owner; empty when there are none.
 */
export function otherOwnersTable(r: Pick<DeleteResult, 'otherOwners'>): string {
  if (r.otherOwners.length === 0) return ''
  const n = r.otherOwners.reduce((a, o) => a + o.memoryCount, 0)
  return [
    `Including ${n} memor${n === 1 ? 'y' : 'ies'} of ${r.otherOwners.length} other user(s), written through these apps (cross-user rows, see 'openmemory db verify'):`,
    renderTable(r.otherOwners, [
      {header: 'OWNER', value: (o) => o.userId},
      {header: 'MEMORIES', value: (o) => o.memoryCount, align: 'right'},
    ]),
  ].join('\n')
}

/** The confirmation question before `users delete`, from its dry run. */
export function deletionQuestion(r: Pick<DeleteResult, 'userId' | 'rowCount' | 'otherOwners'>): string {
  const others = r.otherOwners.length
    ? `, including ${r.otherOwners.reduce((a, o) => a + o.memoryCount, 0)} memories of other users (${r.otherOwners.map((o) => s(o.userId)).join(', ')})`
    : ''
  return `Delete user ${s(r.userId)} and ${r.rowCount - 1} related rows${others}? This cannot be undone.`
}

/** `users deactivate`: what was (or, in a dry run, would be) switched off. */
function switchedOff(r: DeactivateResult): string {
  return `${r.keyDeactivated ? 'key' : 'no active key'}, ${r.appsDeactivated.length ? `apps ${r.appsDeactivated.map(s).join(', ')}` : 'no active apps'}`
}

/** The confirmation question before a deactivation, from its dry run. */
export function deactivationQuestion(r: DeactivateResult): string {
  return `Deactivate ${s(r.userId)}, switching off ${switchedOff(r)}? (Memories are kept; 'users reactivate' undoes it.)`
}

export function deactivationMessage(r: DeactivateResult): string {
  const what = switchedOff(r)
  const who = s(r.userId)
  if (!r.changed) return `User ${who} is already deactivated; nothing changed.`
  if (r.dryRun) return `Would deactivate ${who}: ${what}. Nothing changed (dry run).`
  return `Deactivated ${who}: ${what} switched off. Undo with 'openmemory users reactivate ${who}'.`
}

/** `users reactivate`. */
export function reactivationMessage(r: ReactivateResult): string {
  if (!r.changed) return `User ${s(r.userId)} is not deactivated; nothing changed.`
  const apps = r.appsReactivated.length ? `apps ${r.appsReactivated.map(s).join(', ')}` : 'no apps'
  return `Reactivated ${s(r.userId)}: ${r.keyReactivated ? 'key' : 'key unchanged'}, ${apps} restored.`
}

/** `keys revoke`. */
export function revocationMessage(r: KeysRevokeResult): string {
  const who = s(r.userId)
  if (r.keyStatus === 'none') return `User ${who} has no key; nothing changed.`
  if (!r.changed) return `The key of ${who} (${r.keyFingerprint}) is already revoked; nothing changed.`
  if (r.dryRun) return `Would revoke the key of ${who} (${r.keyFingerprint}). Nothing changed (dry run).`
  return `Revoked the key of ${who} (${r.keyFingerprint}); it no longer authenticates.`
}

/** `keys rotate`: the line on stdout, and the warning (stderr) when the new key stays inactive. */
export function rotationMessage(
  r: Pick<KeysRotateResult, 'userId' | 'previousKeyFingerprint' | 'keyStatus'>,
): {
  line: string
  warning: string | null
} {
  return {
    line: `Rotated the key of ${s(r.userId)}${r.previousKeyFingerprint ? ` (old key ${r.previousKeyFingerprint} no longer works)` : ' (it had no key row; one was added)'}.`,
    warning:
      r.keyStatus === 'active'
        ? null
        : `${s(r.userId)} is deactivated: the new key stays inactive until 'openmemory users reactivate ${s(r.userId)}'.`,
  }
}

/** `memories count`: per user (or app) by state, with a totals row. */
export function memoryCountTable(r: MemoriesCountResult): string {
  return renderTable([...r.rows, memoryTotalsRow(r.totals)], memoryCountColumns(r.states, r.byApp))
}

export function memoryCountColumns(states: string[], byApp: boolean): Column<MemoryCountRow>[] {
  return [
    {header: 'USER ID', value: (x) => x.userId, min: ID_WIDTH},
    ...(byApp ? [{header: 'APP', value: (x: MemoryCountRow) => x.appName ?? ''}] : []),
    ...states.map((s) => ({
      header: s.toUpperCase(),
      value: (x: MemoryCountRow) => x.byState[s] ?? 0,
      align: 'right' as const,
    })),
    {header: 'TOTAL', value: (x) => x.memoryCount, align: 'right'},
  ]
}

/** The TOTAL row under the counts. */
export function memoryTotalsRow(totals: MemoriesCountResult['totals']): MemoryCountRow {
  return {userId: 'TOTAL', appName: '', ...totals}
}

/** What each schema kind means, for `db status`. */
const SCHEMA_MEANINGS: Record<SchemaKind, string> = {
  empty: "no tables yet: 'openmemory db migrate' creates the multi-user schema",
  upstream:
    "the original single-user OpenMemory: 'openmemory db migrate' adds api_keys and users.last_active",
  'multi-user': "the multi-user server's schema, not yet adopted by this tool: run 'openmemory db migrate'",
  managed:
    "this tool's migrations have been applied: the server's tables, unchanged, plus the tool's own tables in schema openmemory_admin",
  unknown: 'tables that are neither the upstream nor the multi-user schema',
}

export function dbStatusLines(status: DbStatusResult): string {
  const c = colors()
  const lines = [
    `Target:      ${s(status.target)} (from ${status.source})`,
    `Server:      PostgreSQL ${status.serverVersion} (${status.driver})`,
    `Schema:      ${status.schema} (${SCHEMA_MEANINGS[status.schema]})`,
    `States:      ${status.memoryStates.map(s).join(', ') || '-'}`,
    `Migrations:  ${status.appliedMigrations.length} applied, ${status.pendingMigrations.length} pending${status.pendingMigrations.length ? ` (${status.pendingMigrations.join(', ')}): run 'openmemory db migrate'` : ''}`,
  ]
  if (status.missing.length > 0)
    lines.push(`Missing:     ${status.missing.join(', ')} (added by 'openmemory db migrate')`)
  if (status.incompatibilities.length === 0) {
    lines.push(
      status.ready
        ? `Compatible:  ${c.green('yes')}`
        : `Compatible:  ${c.yellow('yes, once migrated')}: ${status.pendingMigrations.length} migration(s) pending; run 'openmemory db migrate' before other commands`,
    )
  } else {
    lines.push(`Compatible:  ${c.red('no')}`)
    for (const i of status.incompatibilities) {
      lines.push(
        `  - ${s(i.table)}${i.column ? `.${s(i.column)}` : ''}: expected ${s(i.expected)}, found ${s(i.found)}`,
      )
    }
  }
  if (status.indexSuggestions.length > 0) {
    lines.push(
      `Indexes:     ${c.yellow('suggested')}: listings scan without these (the schema is the server's; this tool never adds them):`,
    )
    for (const i of status.indexSuggestions) lines.push(`  - ${i.create}  -- ${i.usedBy}`)
  }
  return lines.join('\n')
}

/** `prune-inactive`: the question before a run that would change users. */
export function pruneQuestion(
  input: {days: number; mode: PruneMode},
  plan: {matchedCount: number; cutoffAt: string},
): string {
  return `${capitalise(input.mode)} ${plan.matchedCount} user(s) with no activity for ${input.days} days (since ${plan.cutoffAt})?${input.mode === 'delete' ? ' This cannot be undone.' : ''}`
}

/** `prune-inactive`: the summary line of a run. */
export function pruneSummary(r: PruneResult): string {
  return `${capitalise(pruneVerb(r.mode))} ${r.changedCount} of ${r.matchedCount} user(s) inactive for ${r.days} days${r.skippedCount ? `; kept ${r.skippedCount} that became active during the run` : ''} (${(r.durationMs / 1000).toFixed(1)} s).`
}

export function pruneVerb(mode: PruneMode, progressive = false): string {
  if (progressive) return mode === 'delete' ? 'Deleting' : 'Deactivating'
  return mode === 'delete' ? 'deleted' : 'deactivated'
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1)
}

/** `users create`: the line before the key. */
export function creationMessage(r: Pick<UsersCreateResult, 'userId' | 'name' | 'email' | 'apps'>): string {
  return `Created user ${s(r.userId)} (${s(r.name)}${r.email ? ` <${s(r.email)}>` : ''}) with app${r.apps.length === 1 ? '' : 's'} ${r.apps.map((a) => `'${s(a.name)}'`).join(', ')}.`
}

/**
 * What a revoke, rotate or deactivate does not stop: the server checks a key
 * when an MCP SSE session opens (api/app/mcp_server.py line 55 @1882743f), not
 * on each message (line 142: the session id alone), so an open session keeps
 * working until its client reconnects.
 */
export const MCP_SESSION_NOTE =
  'New logins and API requests with the old key are refused at once, but an MCP client session already open (GET /mcp/<client>/sse) keeps working until the client reconnects: restart it, or the server, to cut it off.'

/** After `users delete`: what this tool cannot reach, and how to remove it. */
export function vectorStoreNote(userId: string): string {
  const filter = JSON.stringify({filter: {must: [{key: 'user_id', match: {value: userId}}]}})
  return `The server's vector store (mem0 on Qdrant) still holds this user's memory points, keyed by user_id '${userId}'; this tool cannot reach it. Remove them with Qdrant's delete-points by filter: POST /collections/<collection>/points/delete ${filter}. Until then 'users create ${userId}' refuses the id (--reuse-deleted-id overrides).`
}
