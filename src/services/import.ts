/**
 * `users import`: many users from a CSV, validated whole before anything is
 * written, then created in one transaction with multi-row inserts (a few
 * statements per 500 users, not three round trips per user).
 *
 * The CSV has a header row with the columns `users list --format csv` writes:
 * `userId`, `name` and `email` are required (cells of name and email may be
 * empty), `app` (one name) or `apps` (names joined with `;`) is optional, any
 * other column is ignored. Headers match case-insensitively, ignoring spaces,
 * `_` and `-` (`User ID`, `user_id`). Line numbers are those of the file, so
 * the header is line 1 and, in a spreadsheet, they are its row numbers.
 */
import {parse} from 'csv-parse/sync'
import {sql} from 'drizzle-orm'
import {chunks} from '../db/arrays.js'
import type {Db} from '../db/client.js'
import {apiKeys, apps, users} from '../db/schema.js'
import {rows} from '../db/sql.js'
import {ConflictError, OpenMemoryError, ValidationError} from '../errors.js'
import {recordAudit} from './audit.js'
import type {ServiceContext} from './context.js'
import {emailProblem} from './email.js'
import {checkKeyLength, fingerprint, hashKey, type IssuedKey, KEY_LENGTH} from './keys.js'
import {DEFAULT_APP, lockUsers} from './users.js'
import {appNameProblem, nameProblem, show, titleCase, userIdProblem} from './validation.js'

export interface ImportRow {
  /** Line of the file where the row starts (the header is line 1). */
  line: number
  userId: string
  name: string
  email: string | null
  apps: string[]
}

export interface ImportProblem {
  line: number
  message: string
}

/** At most this many problems are named; the rest are counted. */
export const PROBLEMS_SHOWN = 20
/** Users per batch of statements (and per progress step). */
export const IMPORT_BATCH = 500

const REQUIRED = ['userid', 'name', 'email'] as const

function columnKey(header: string): string {
  return header.toLowerCase().replace(/[\s_-]/g, '')
}

/** The rows of the CSV with every rule of `users create` applied; database conflicts come later. */
export function parseImportCsv(text: string): {rows: ImportRow[]; problems: ImportProblem[]} {
  let records: {record: string[]; info: {lines: number; empty_lines: number}}[]
  try {
    records = parse(text, {
      bom: true,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
    }) as unknown as typeof records
  } catch (error) {
    const line = (error as {lines?: number}).lines
    const reason = String((error as Error).message ?? 'unreadable CSV').split(/ at line| \(line/)[0]
    throw new ValidationError(
      `The CSV cannot be read${line ? ` (line ${line})` : ''}: ${reason}. Nothing was written.`,
    )
  }
  const [head, ...body] = records
  if (!head) throw new ValidationError('The CSV is empty: it needs a header row (userId,name,email).')
  const index = new Map<string, number>()
  head.record.forEach((h, i) => {
    const key = columnKey(h)
    if (index.has(key) && ['userid', 'name', 'email', 'app', 'apps'].includes(key)) {
      throw new ValidationError(`The CSV header names the column ${show(h)} twice.`)
    }
    if (!index.has(key)) index.set(key, i)
  })
  const missing = REQUIRED.filter((c) => !index.has(c))
  if (missing.length > 0) {
    const names = missing.map((m) => ({userid: 'userId', name: 'name', email: 'email'})[m])
    throw new ValidationError(
      `The CSV header lacks ${names.join(', ')}: it needs userId, name and email (the columns 'users list --format csv' writes; app or apps is optional).`,
    )
  }
  if (index.has('app') && index.has('apps')) {
    throw new ValidationError('The CSV has both an app and an apps column: keep one.')
  }
  const appColumn = index.get('app') ?? index.get('apps')
  const appSeparator = index.has('apps') ? ';' : undefined

  const rows: ImportRow[] = []
  const problems: ImportProblem[] = []
  const seenIds = new Map<string, number>()
  const seenEmails = new Map<string, number>()
  let prevLines = head.info.lines
  let prevEmpty = head.info.empty_lines
  for (const {record, info} of body) {
    const line = prevLines + 1 + (info.empty_lines - prevEmpty)
    prevLines = info.lines
    prevEmpty = info.empty_lines
    const cell = (key: string) => record[index.get(key) ?? -1] ?? ''
    const problem = (message: string) => problems.push({line, message})
    if (record.length !== head.record.length) {
      problem(`has ${record.length} cells where the header has ${head.record.length} (check the quoting).`)
      continue
    }
    const userId = cell('userid')
    const nameCell = cell('name')
    const emailCell = cell('email')
    const idProblem = userIdProblem(userId)
    if (idProblem) problem(`invalid userId ${show(userId)}: ${idProblem}`)
    else if (seenIds.has(userId)) problem(`userId ${userId} is already on line ${seenIds.get(userId)}.`)
    else seenIds.set(userId, line)
    const namePresent = nameCell.trim() !== ''
    if (namePresent && nameProblem(nameCell))
      problem(`invalid name ${show(nameCell)}: ${nameProblem(nameCell)}`)
    let email: string | null = null
    if (emailCell.trim() !== '') {
      const why = emailProblem(emailCell)
      if (why) problem(`invalid email ${show(emailCell)}: ${why}`)
      else {
        email = emailCell.trim()
        const key = email.toLowerCase()
        if (seenEmails.has(key)) problem(`email ${email} is already on line ${seenEmails.get(key)}.`)
        else seenEmails.set(key, line)
      }
    }
    const appCell = appColumn === undefined ? '' : (record[appColumn] ?? '')
    const appNames = [
      ...new Set(
        (appSeparator ? appCell.split(appSeparator) : [appCell]).map((a) => a.trim()).filter(Boolean),
      ),
    ]
    for (const a of appNames) {
      const why = appNameProblem(a)
      if (why) problem(`invalid app ${show(a)}: ${why}`)
    }
    rows.push({
      line,
      userId,
      name: namePresent ? nameCell.trim() : titleCase(userId),
      email,
      apps: appNames.length > 0 ? appNames : [DEFAULT_APP],
    })
  }
  if (body.length === 0 && problems.length === 0) {
    throw new ValidationError('The CSV has a header but no rows: nothing to import.')
  }
  return {rows, problems}
}

export interface DatabaseConflicts {
  /** userIds of the file that exist already. */
  existing: Set<string>
  /** Lower-cased emails of the file already used, and by whom. */
  emails: Map<string, string>
}

/** Which userIds and emails (case-insensitively) of the rows the database already has: one query. */
export async function findConflicts(db: Db, input: ImportRow[]): Promise<DatabaseConflicts> {
  const ids = JSON.stringify(input.map((r) => r.userId))
  const emails = JSON.stringify(input.flatMap((r) => (r.email ? [r.email.toLowerCase()] : [])))
  const found = await rows<{user_id: string; email: string | null}>(
    db,
    sql`
      select u.user_id, u.email from ${users} u
      where u.user_id in (select jsonb_array_elements_text(${ids}::jsonb))
         or lower(u.email) in (select jsonb_array_elements_text(${emails}::jsonb))`,
  )
  const existing = new Set<string>()
  const byEmail = new Map<string, string>()
  for (const f of found) {
    existing.add(f.user_id)
    if (f.email) byEmail.set(f.email.toLowerCase(), f.user_id)
  }
  return {existing, emails: byEmail}
}

export interface ImportPlan {
  /** Rows to create. */
  create: ImportRow[]
  /** Rows left alone because the userId exists (--skip-existing). */
  skipped: ImportRow[]
}

/**
 * Split rows into created and skipped, and name every conflict with the
 * database. Problems of both kinds (rules and conflicts) come back together,
 * sorted by line.
 */
export function planImport(
  rows: ImportRow[],
  problems: ImportProblem[],
  conflicts: DatabaseConflicts,
  opts: {skipExisting?: boolean},
): ImportPlan & {problems: ImportProblem[]} {
  const all = [...problems]
  const create: ImportRow[] = []
  const skipped: ImportRow[] = []
  const userIds = new Set(rows.map((r) => r.userId))
  for (const row of rows) {
    if (conflicts.existing.has(row.userId)) {
      if (opts.skipExisting) skipped.push(row)
      else
        all.push({
          line: row.line,
          message: `user ${row.userId} already exists (pass --skip-existing to leave existing users untouched).`,
        })
      continue
    }
    const owner = row.email ? conflicts.emails.get(row.email.toLowerCase()) : undefined
    // An email held by a user whose own row is skipped is still that user's: a conflict too.
    if (owner !== undefined && !(userIds.has(owner) && owner === row.userId)) {
      all.push({line: row.line, message: `email ${row.email} is already used by user ${owner}.`})
      continue
    }
    create.push(row)
  }
  all.sort((a, b) => a.line - b.line)
  return {create, skipped, problems: all}
}

/** Exit 2 naming each problem by line (the first 20), nothing written. */
export class ImportProblemsError extends OpenMemoryError {
  constructor(problems: ImportProblem[], source: string) {
    const shown = problems.slice(0, PROBLEMS_SHOWN)
    const more = problems.length - shown.length
    const lines = [
      `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${source}; nothing was written:`,
      ...shown.map((p) => `  line ${p.line}: ${p.message}`),
      ...(more > 0 ? [`  ... and ${more} more.`] : []),
    ]
    super(lines.join('\n'), {
      code: 'INVALID_INPUT',
      exitCode: 2,
      data: {problems: shown, problemCount: problems.length},
    })
  }
}

export interface ImportedUser {
  userId: string
  name: string
  email: string | null
  apps: string[]
  keyFingerprint: string
}

export interface ImportHooks {
  onStart?: (total: number) => void
  onProgress?: (done: number) => void
  /** Deliver the keys (written and fsynced) inside the transaction, before it commits. */
  beforeCommit?: (keys: IssuedKey[]) => Promise<void>
}

/**
 * Create the planned users, their keys and apps, and one audit row each, in
 * one transaction. The keys exist only in memory and in what `beforeCommit`
 * does with them; a conflict that appeared since validation rolls it all back.
 */
export async function importUsers(
  db: Db,
  rows: ImportRow[],
  opts: {keyLength?: number},
  ctx: ServiceContext,
  hooks: ImportHooks = {},
): Promise<ImportedUser[]> {
  const length = checkKeyLength(opts.keyLength ?? KEY_LENGTH.default)
  const now = ctx.now()
  const made = rows.map((row) => {
    const apiKey = ctx.newKey(length)
    return {row, id: ctx.uuid(), keyId: ctx.uuid(), apiKey, keyHash: hashKey(apiKey)}
  })
  hooks.onStart?.(made.length)
  await db.transaction(async (tx) => {
    await lockUsers(tx)
    const again = planImport(rows, [], await findConflicts(tx, rows), {})
    if (again.problems.length > 0) {
      throw new ConflictError(
        `Another writer created conflicting users meanwhile (line ${again.problems[0].line}: ${again.problems[0].message}); nothing was written. Run the import again.`,
      )
    }
    let done = 0
    for (const batch of chunks(made, IMPORT_BATCH)) {
      for (const part of chunks(batch)) {
        await tx.insert(users).values(
          part.map((m) => ({
            id: m.id,
            userId: m.row.userId,
            name: m.row.name,
            email: m.row.email,
            createdAt: now,
            updatedAt: now,
            lastActive: now,
          })),
        )
      }
      for (const part of chunks(batch)) {
        await tx.insert(apiKeys).values(
          part.map((m) => ({
            id: m.keyId,
            userId: m.id,
            keyHash: m.keyHash,
            createdAt: now,
            lastUsed: null,
            isActive: true,
          })),
        )
      }
      const appRows = batch.flatMap((m) =>
        m.row.apps.map((name) => ({
          id: ctx.uuid(),
          ownerId: m.id,
          name,
          isActive: true,
          createdAt: now,
          updatedAt: now,
        })),
      )
      for (const part of chunks(appRows)) await tx.insert(apps).values(part)
      await recordAudit(
        tx,
        ctx,
        batch.map((m) => ({
          targetUserId: m.row.userId,
          outcome: 'created' as const,
          details: {
            name: m.row.name,
            email: m.row.email,
            apps: m.row.apps,
            keyFingerprint: fingerprint(m.keyHash),
            line: m.row.line,
          },
        })),
      )
      done += batch.length
      hooks.onProgress?.(done)
    }
    await hooks.beforeCommit?.(made.map((m) => ({userId: m.row.userId, apiKey: m.apiKey})))
  })
  return made.map((m) => ({
    userId: m.row.userId,
    name: m.row.name,
    email: m.row.email,
    apps: m.row.apps,
    keyFingerprint: fingerprint(m.keyHash),
  }))
}
