import {DeletedIdsError, ImportProblemsError} from '../errors.js'
import {parseImportCsv, planImport} from '../services/import.js'
import {createUsers, findCreationConflicts} from '../services/users.js'
import {show} from '../services/validation.js'
import type {Destination} from '../ui/bulk-keys.js'
import {settleInterrupted} from '../ui/pending.js'
import {type BulkFlow, type BulkInput, requireDestination, runBulkJob} from './bulk.js'

export interface UsersImportResult {
  source: string
  dryRun: boolean
  createdCount: number
  skippedCount: number
  createdUserIds: string[]
  skippedUserIds: string[]
  /** userIds this tool had deleted before, created again with --reuse-deleted-id. */
  reusedUserIds: string[]
  destination: Destination | null
  durationMs: number
}

export interface ImportFlowInput extends BulkInput {
  /** The CSV, read once the destination is known to be acceptable. */
  read: () => Promise<{text: string; source: string}>
  skipExisting?: boolean
  reuseDeletedId?: boolean
  /** Create rows that were not active at the source, deactivated (else they are refused). */
  includeInactive?: boolean
}

export const importFlow: BulkFlow<ImportFlowInput, UsersImportResult> = async (io, open, input, ctx) => {
  const dryRun = await requireDestination(io, input, 'A bulk import')
  const {text, source} = await input.read()
  const {rows, problems} = parseImportCsv(text)

  const database = await open()
  // An earlier run cut short (SIGKILL) gets its keys named or removed first: it may have created these users.
  if (!dryRun) await settleInterrupted(database.db, (line) => io.warn(line))
  const plan = planImport(rows, problems, await findCreationConflicts(database.db, rows), {
    skipExisting: input.skipExisting,
  })
  if (!input.includeInactive) {
    for (const r of plan.create) {
      if (r.inactive) {
        plan.problems.push({
          line: r.line,
          message: `${show(r.userId)} is ${r.inactive} in the source; --include-inactive creates it deactivated ('users reactivate' undoes that).`,
        })
      }
    }
    plan.problems.sort((a, b) => a.line - b.line)
  }
  if (plan.problems.length > 0) throw new ImportProblemsError(plan.problems, source)
  if (plan.deleted.length > 0 && !input.reuseDeletedId) throw new DeletedIdsError(plan.deleted, source)

  const base = {
    source,
    dryRun,
    skippedCount: plan.skipped.length,
    createdUserIds: plan.create.map((r) => r.userId),
    skippedUserIds: plan.skipped.map((r) => r.userId),
    reusedUserIds: plan.deleted.map((d) => d.row.userId),
  }
  const skippedNote = plan.skipped.length > 0 ? `; ${plan.skipped.length} skipped (they exist)` : ''
  if (dryRun || plan.create.length === 0) {
    io.note(
      dryRun
        ? `Dry run: ${plan.create.length} user(s) would be created from ${source}${skippedNote}; nothing changed.`
        : `Nothing to create from ${source}${skippedNote}.`,
    )
    return {...base, createdCount: 0, destination: null, durationMs: Date.now() - input.started}
  }

  const {destination, durationMs} = await runBulkJob(
    io,
    database,
    {
      label: 'Importing',
      command: 'users import',
      delivery: input.delivery,
      run: (hooks) =>
        createUsers(
          database.db,
          plan.create,
          {keyLength: input.keyLength, reuseDeletedId: input.reuseDeletedId},
          ctx,
          hooks,
        ),
      done: (made, seconds) => ({
        keys: made.length,
        summary: `Created ${made.length} user(s) from ${source}${skippedNote} in ${seconds} s.`,
      }),
    },
    input.started,
  )
  if (base.reusedUserIds.length > 0) {
    io.warn(
      `${base.reusedUserIds.length} userId(s) belonged to users this tool deleted (${base.reusedUserIds.slice(0, 5).join(', ')}${base.reusedUserIds.length > 5 ? ', …' : ''}): if their vector-store points were not deleted (Qdrant: delete points by filter on payload user_id), they will find the old memories through search.`,
    )
  }
  return {...base, createdCount: plan.create.length, destination, durationMs}
}
