import {DeletedIdsError, ImportProblemsError} from '../errors.js'
import {importSource, planImportFile} from '../services/import.js'
import {createUsers} from '../services/users.js'
import type {Destination} from '../ui/bulk-keys.js'
import {settleInterrupted} from '../ui/pending.js'
import type {SpooledInput} from '../ui/stdin.js'
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
  /** The CSV in the tool's own copy, made once the destination is known to be acceptable. */
  read: () => Promise<SpooledInput>
  skipExisting?: boolean
  reuseDeletedId?: boolean
  /** Create rows that were not active at the source, deactivated (else they are refused). */
  includeInactive?: boolean
}

export const importFlow: BulkFlow<ImportFlowInput, UsersImportResult> = async (io, open, input, ctx) => {
  const dryRun = await requireDestination(io, input, 'A bulk import')
  const spooled = await input.read()
  try {
    return await importSpooled(io, open, input, ctx, dryRun, spooled)
  } finally {
    spooled.remove()
  }
}

async function importSpooled(
  io: Parameters<typeof importFlow>[0],
  open: Parameters<typeof importFlow>[1],
  input: ImportFlowInput,
  ctx: Parameters<typeof importFlow>[3],
  dryRun: boolean,
  {path, source}: SpooledInput,
): Promise<UsersImportResult> {
  const database = await open()
  // An earlier run cut short (SIGKILL) gets its keys named or removed first: it may have created these users.
  if (!dryRun) await settleInterrupted(database.db, (line) => io.warn(line))
  // Pass one: every row checked against the rules and the database; nothing held but ids and the first problems.
  const plan = await planImportFile(path, database.db, {
    skipExisting: input.skipExisting,
    includeInactive: input.includeInactive,
  })
  if (plan.problemCount > 0) throw new ImportProblemsError(plan.problems, source, plan.problemCount)
  if (plan.deleted.length > 0 && !input.reuseDeletedId) throw new DeletedIdsError(plan.deleted, source)

  const base = {
    source,
    dryRun,
    skippedCount: plan.skippedUserIds.length,
    createdUserIds: plan.createdUserIds,
    skippedUserIds: plan.skippedUserIds,
    reusedUserIds: plan.deleted.map((d) => d.row.userId),
  }
  const skippedNote =
    plan.skippedUserIds.length > 0 ? `; ${plan.skippedUserIds.length} skipped (they exist)` : ''
  if (dryRun || plan.count === 0) {
    io.note(
      dryRun
        ? `Dry run: ${plan.count} user(s) would be created from ${source}${skippedNote}; nothing changed.`
        : `Nothing to create from ${source}${skippedNote}.`,
    )
    return {...base, createdCount: 0, destination: null, durationMs: Date.now() - input.started}
  }

  // Passes two and three (keys staged, then rows inserted in one transaction) read the file again.
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
          importSource(path, plan),
          {keyLength: input.keyLength, reuseDeletedId: input.reuseDeletedId},
          ctx,
          hooks,
        ),
      done: (made, seconds) => ({
        keys: made.count,
        summary: `Created ${made.count} user(s) from ${source}${skippedNote} in ${seconds} s.`,
      }),
    },
    input.started,
  )
  if (base.reusedUserIds.length > 0) {
    io.warn(
      `${base.reusedUserIds.length} userId(s) belonged to users this tool deleted (${base.reusedUserIds.slice(0, 5).join(', ')}${base.reusedUserIds.length > 5 ? ', …' : ''}): if their vector-store points were not deleted (Qdrant: delete points by filter on payload user_id), they will find the old memories through search.`,
    )
  }
  return {...base, createdCount: plan.count, destination, durationMs}
}
