/**
 * Prune inactive users (`prune-inactive`, the menu): one run at a time (the
 * run lock), count, show who and ask (unless --yes), then change them in
 * batches. `prune-inactive --dry-run` is a listing of the same selection.
 */
import {type Database, withRunLock} from '../db/client.js'
import type {ServiceContext} from '../services/context.js'
import {
  listInactive,
  PRUNE_BUSY,
  PRUNE_LOCK,
  type PruneInput,
  type PruneResult,
  planPrune,
  pruneInactive,
} from '../services/prune.js'
import {resolveUserRefs} from '../services/user-lookup.js'
import {parseDays} from '../services/validation.js'
import {pruneQuestion, pruneSummary, pruneVerb} from '../ui/render.js'
import {sanitize as s} from '../ui/sanitize.js'
import {CANCELLED, type FlowIO} from './io.js'

/** How many of the users a run would change are named before the question. */
export const PRUNE_PREVIEW = 20

export const PRUNE_UNDO_NOTE =
  "Undo for a user with 'openmemory users reactivate <userId>'; 'openmemory audit list --since 1d' lists who was changed."

export type PruneFlowResult = PruneResult & {cancelled?: true}

export async function pruneFlow(
  io: FlowIO,
  database: Database,
  input: Omit<PruneInput, 'dryRun'> & {yes?: boolean},
  ctx: ServiceContext,
): Promise<PruneFlowResult> {
  parseDays(input.days)
  return withRunLock(database, PRUNE_LOCK, PRUNE_BUSY, async () => {
    // --exclude names stored ids exactly or by their shown spelling: work with the stored ones.
    input = {...input, exclude: await resolveUserRefs(database.db, input.exclude ?? [])}
    // Without --yes: count first; a run that would change anything asks (or, with no terminal, exits 2).
    const plan = input.yes ? undefined : await planPrune(database.db, input, ctx)
    if (plan && plan.matchedCount > 0) {
      const action = `${input.mode} ${plan.matchedCount} inactive user(s)`
      io.assertCanConfirm({yes: input.yes, action})
      const {users} = await listInactive(
        database.db,
        {...input, limit: Math.min(PRUNE_PREVIEW, input.limit ?? PRUNE_PREVIEW)},
        ctx,
      )
      for (const u of users) io.log(`  ${s(u.userId)}`)
      if (plan.matchedCount > users.length) io.log(`  … and ${plan.matchedCount - users.length} more`)
      if (!(await io.confirm({action, message: pruneQuestion(input, plan)}))) {
        io.log(CANCELLED)
        return {
          ...plan,
          days: input.days,
          mode: input.mode,
          changedCount: 0,
          skippedCount: 0,
          dryRun: false,
          durationMs: 0,
          userIds: [],
          cancelled: true,
        }
      }
    }
    const bar = await io.progress(pruneVerb(input.mode, true))
    let r: PruneResult
    try {
      r = await pruneInactive(database.db, input, ctx, {
        onStart: (n) => bar.start(n),
        onBatch: ({changed, skipped}) => bar.update(changed + skipped),
      })
    } finally {
      bar.stop()
    }
    io.log(pruneSummary(r))
    if (input.mode === 'deactivate' && r.changedCount > 0) io.note(PRUNE_UNDO_NOTE)
    return r
  })
}
