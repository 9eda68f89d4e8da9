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
import {ValidationError} from '../errors.js'
import {unguardCell} from './csv-guard.js'
import {emailProblem} from './email.js'
import {type CreationConflicts, DEFAULT_APP} from './users.js'
import {appNameProblem, nameProblem, show, titleCase, userIdProblem} from './validation.js'

export interface ImportRow {
  /** Line of the file where the row starts (the header is line 1). */
  line: number
  /** What breaks the rules for a new user (planImport reports them unless the row is skipped). */
  rules?: string[]
  userId: string
  name: string
  email: string | null
  apps: string[]
  /**
   * Not active where it came from (`users list --format csv` says so in its
   * `deactivated` and `keyStatus` columns): refused unless --include-inactive,
   * which creates it deactivated.
   */
  inactive?: 'deactivated' | 'key revoked'
}

export interface ImportProblem {
  line: number
  message: string
}

const REQUIRED = ['userid', 'name', 'email'] as const

function columnKey(header: string): string {
  const key = header.toLowerCase().replace(/[\s_-]/g, '')
  // `users list --format csv` names the column appNames.
  return key === 'appnames' ? 'apps' : key
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
    // A cell the export guarded against formulas (csv-guard.ts) is read back exactly.
    const cell = (key: string) => unguardCell(record[index.get(key) ?? -1] ?? '')
    const problem = (message: string) => problems.push({line, message})
    if (record.length !== head.record.length) {
      problem(`has ${record.length} cells where the header has ${head.record.length} (check the quoting).`)
      continue
    }
    // PostgreSQL cannot store a NUL byte in text: such a row never reaches a query.
    if (record.some((c) => c.includes('\u0000'))) {
      problem('a cell holds a NUL byte (\\u0000), which PostgreSQL cannot store.')
      continue
    }
    const userId = cell('userid')
    const nameCell = cell('name')
    const emailCell = cell('email')
    // The rules for a new user: a row whose userId already exists is matched by its exact
    // stored string and, with --skip-existing, skipped without them (planImport).
    const rules: string[] = []
    const idProblem = userIdProblem(userId)
    if (seenIds.has(userId)) problem(`userId ${show(userId)} is already on line ${seenIds.get(userId)}.`)
    else seenIds.set(userId, line)
    if (idProblem) rules.push(`invalid userId ${show(userId)}: ${idProblem}`)
    const namePresent = nameCell.trim() !== ''
    if (namePresent && nameProblem(nameCell))
      rules.push(`invalid name ${show(nameCell)}: ${nameProblem(nameCell)}`)
    let email: string | null = null
    if (emailCell.trim() !== '') {
      const why = emailProblem(emailCell)
      if (why) rules.push(`invalid email ${show(emailCell)}: ${why}`)
      else {
        email = emailCell.trim()
        const key = email.toLowerCase()
        if (seenEmails.has(key)) problem(`email ${email} is already on line ${seenEmails.get(key)}.`)
        else seenEmails.set(key, line)
      }
    }
    const appCell = appColumn === undefined ? '' : unguardCell(record[appColumn] ?? '')
    const appNames = [
      ...new Set(
        (appSeparator ? appCell.split(appSeparator) : [appCell]).map((a) => a.trim()).filter(Boolean),
      ),
    ]
    for (const a of appNames) {
      const why = appNameProblem(a)
      if (why) rules.push(`invalid app ${show(a)}: ${why}`)
    }
    const inactive =
      cell('deactivated').trim().toLowerCase() === 'true'
        ? 'deactivated'
        : cell('keystatus').trim().toLowerCase() === 'revoked'
          ? 'key revoked'
          : undefined
    rows.push({
      line,
      ...(rules.length > 0 ? {rules} : {}),
      ...(inactive ? {inactive} : {}),
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

export interface ImportPlan {
  /** Rows to create. */
  create: ImportRow[]
  /** Rows left alone because the userId exists (--skip-existing). */
  skipped: ImportRow[]
  /** Rows to create whose userId this tool deleted before (the deleted-id guard), with when. */
  deleted: {row: ImportRow; at: string}[]
}

/**
 * Split rows into created and skipped, and name every conflict with the
 * database. Problems of both kinds (rules and conflicts) come back together,
 * sorted by line.
 */
export function planImport(
  rows: ImportRow[],
  problems: ImportProblem[],
  conflicts: CreationConflicts,
  opts: {skipExisting?: boolean},
): ImportPlan & {problems: ImportProblem[]} {
  const all = [...problems]
  const create: ImportRow[] = []
  const skipped: ImportRow[] = []
  const userIds = new Set(rows.map((r) => r.userId))
  for (const row of rows) {
    if (conflicts.existing.has(row.userId) && opts.skipExisting) {
      skipped.push(row)
      continue
    }
    if (row.rules) {
      for (const message of row.rules) all.push({line: row.line, message})
      continue
    }
    if (conflicts.existing.has(row.userId)) {
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
  const deleted = create.flatMap((row) => {
    const at = conflicts.deleted.get(row.userId)
    return at ? [{row, at}] : []
  })
  return {create, skipped, deleted, problems: all}
}
