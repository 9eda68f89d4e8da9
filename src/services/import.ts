/**
 * `users import`: many users from a CSV, validated whole before anything is
 * written, then created in one transaction with multi-row inserts (a few
 * statements per 500 users, not three round trips per user). The file is
 * read as a stream, in a bounded number of passes (validate; make and stage
 * the keys; insert), so no pass holds all its rows.
 *
 * The CSV has a header row with the columns `users list --format csv` writes:
 * `userId`, `name` and `email` are required (cells of name and email may be
 * empty), `app` (one name) or `apps` (names joined with `;`) is optional, any
 * other column is ignored. Headers match case-insensitively, ignoring spaces,
 * `_` and `-` (`User ID`, `user_id`). Line numbers are those of the file, so
 * the header is line 1 and, in a spreadsheet, they are its row numbers.
 */
import {createReadStream} from 'node:fs'
import {parse} from 'csv-parse'
import type {Db} from '../db/client.js'
import {PROBLEMS_SHOWN, ValidationError} from '../errors.js'
import {unguardCell} from './csv-guard.js'
import {emailProblem} from './email.js'
import {type CreationConflicts, DEFAULT_APP, findCreationConflicts, type NewUserSource} from './users.js'
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

function unreadable(error: unknown): ValidationError {
  const line = (error as {lines?: number}).lines
  const reason = String((error as Error).message ?? 'unreadable CSV').split(/ at line| \(line/)[0]
  return new ValidationError(
    `The CSV cannot be read${line ? ` (line ${line})` : ''}: ${reason}. Nothing was written.`,
  )
}

type CsvRecord = {record: string[]; info: {lines: number; empty_lines: number}}

/**
 * The rows of a CSV file with every rule of `users create` applied, one at a
 * time; a row that cannot become a user goes to `problem` instead. Database
 * conflicts come later (planImportFile).
 */
export async function* readImportCsv(
  file: string,
  problem: (p: ImportProblem) => void,
  opts: {duplicates?: boolean} = {duplicates: true},
): AsyncGenerator<ImportRow> {
  const records = createReadStream(file).pipe(
    parse({bom: true, info: true, relax_column_count: true, skip_empty_lines: true}),
  )
  const iterator = (records as AsyncIterable<CsvRecord>)[Symbol.asyncIterator]()
  const next = async () => {
    try {
      return await iterator.next()
    } catch (error) {
      throw unreadable(error)
    }
  }
  const first = await next()
  if (first.done) throw new ValidationError('The CSV is empty: it needs a header row (userId,name,email).')
  const head = first.value
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

  // Duplicates inside the file: every userId and email seen, with its line (the first pass only).
  const seenIds = new Map<string, number>()
  const seenEmails = new Map<string, number>()
  const duplicates = opts.duplicates !== false
  let prevLines = head.info.lines
  let prevEmpty = head.info.empty_lines
  let body = 0
  for (let r = await next(); !r.done; r = await next()) {
    const {record, info} = r.value
    body++
    const line = prevLines + 1 + (info.empty_lines - prevEmpty)
    prevLines = info.lines
    prevEmpty = info.empty_lines
    // A cell the export guarded against formulas (csv-guard.ts) is read back exactly.
    const cell = (key: string) => unguardCell(record[index.get(key) ?? -1] ?? '')
    const report = (message: string) => problem({line, message})
    if (record.length !== head.record.length) {
      report(`has ${record.length} cells where the header has ${head.record.length} (check the quoting).`)
      continue
    }
    // PostgreSQL cannot store a NUL byte in text: such a row never reaches a query.
    if (record.some((c) => c.includes('\u0000'))) {
      report('a cell holds a NUL byte (\\u0000), which PostgreSQL cannot store.')
      continue
    }
    const userId = cell('userid')
    const nameCell = cell('name')
    const emailCell = cell('email')
    // The rules for a new user: a row whose userId already exists is matched by its exact
    // stored string and, with --skip-existing, skipped without them (planImport).
    const rules: string[] = []
    const idProblem = userIdProblem(userId)
    const firstLine = duplicates ? seenIds.get(userId) : undefined
    if (firstLine !== undefined) report(`userId ${show(userId)} is already on line ${firstLine}.`)
    else if (duplicates) seenIds.set(userId, line)
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
        const emailLine = duplicates ? seenEmails.get(key) : undefined
        if (emailLine !== undefined) report(`email ${email} is already on line ${emailLine}.`)
        else if (duplicates) seenEmails.set(key, line)
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
    yield {
      line,
      ...(rules.length > 0 ? {rules} : {}),
      ...(inactive ? {inactive} : {}),
      userId,
      name: namePresent ? nameCell.trim() : titleCase(userId),
      email,
      apps: appNames.length > 0 ? appNames : [DEFAULT_APP],
    }
  }
  if (body === 0) throw new ValidationError('The CSV has a header but no rows: nothing to import.')
}

/**
 * Rows per step of every pass: the database's conflicts are looked up per
 * step (one scan of users each), so few large steps; what a step holds is
 * a few MB.
 */
export const IMPORT_BATCH = 2000

/** What the first pass over the file found: what to create, what to skip, and the problems. */
export interface ImportFilePlan {
  /** Rows to create. */
  count: number
  createdUserIds: string[]
  skippedUserIds: string[]
  /** Lines of the skipped rows (the later passes leave them out). */
  skippedLines: Set<number>
  /** Rows to create whose userId this tool deleted before (the deleted-id guard), with when. */
  deleted: {row: {line: number; userId: string}; at: string}[]
  /** The first problems by line (at most PROBLEMS_SHOWN), and how many there are in all. */
  problems: ImportProblem[]
  problemCount: number
}

/**
 * The first pass: every row checked (the rules, duplicates in the file, the
 * database's users and emails, batch by batch), holding only the ids to
 * report and the first problems.
 */
export async function planImportFile(
  file: string,
  db: Db,
  opts: {skipExisting?: boolean; includeInactive?: boolean},
): Promise<ImportFilePlan> {
  const plan: ImportFilePlan = {
    count: 0,
    createdUserIds: [],
    skippedUserIds: [],
    skippedLines: new Set(),
    deleted: [],
    problems: [],
    problemCount: 0,
  }
  let batch: ImportRow[] = []
  let found: ImportProblem[] = []
  const flush = async () => {
    const part = planImport(batch, found, await findCreationConflicts(db, batch), opts)
    for (const r of part.create) {
      if (r.inactive && !opts.includeInactive) {
        part.problems.push({
          line: r.line,
          message: `${show(r.userId)} is ${r.inactive} in the source; --include-inactive creates it deactivated ('users reactivate' undoes that).`,
        })
      }
    }
    part.problems.sort((a, b) => a.line - b.line)
    plan.problemCount += part.problems.length
    plan.problems.push(...part.problems.slice(0, PROBLEMS_SHOWN - plan.problems.length))
    plan.count += part.create.length
    for (const r of part.create) plan.createdUserIds.push(r.userId)
    for (const r of part.skipped) {
      plan.skippedUserIds.push(r.userId)
      plan.skippedLines.add(r.line)
    }
    for (const d of part.deleted) plan.deleted.push({row: {line: d.row.line, userId: d.row.userId}, at: d.at})
    batch = []
    found = []
  }
  for await (const row of readImportCsv(file, (p) => found.push(p))) {
    batch.push(row)
    if (batch.length >= IMPORT_BATCH) await flush()
  }
  if (batch.length > 0 || found.length > 0) await flush()
  return plan
}

/**
 * The rows to create, read again from the file (the later passes): the same
 * rows in the same order as the plan counted. The file is the tool's own
 * copy; a difference from the first pass is refused all the same.
 */
export function importSource(file: string, plan: ImportFilePlan): NewUserSource {
  const changed = () =>
    new ValidationError('The input changed between its reads; nothing was written. Run the import again.')
  return {
    count: plan.count,
    async *batches() {
      let batch: ImportRow[] = []
      const rows = readImportCsv(
        file,
        () => {
          throw changed()
        },
        {duplicates: false},
      )
      for await (const row of rows) {
        if (plan.skippedLines.has(row.line)) continue
        if (row.rules) throw changed()
        batch.push(row)
        if (batch.length >= IMPORT_BATCH) {
          yield batch
          batch = []
        }
      }
      if (batch.length > 0) yield batch
    },
  }
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
