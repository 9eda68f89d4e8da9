import {
  DEFAULT_ROTATION_BATCH,
  listOldKeys,
  type OldKey,
  rotateKeysOlderThan,
} from '../services/key-policy.js'
import type {Destination} from '../ui/bulk-keys.js'
import {formatDate, renderTable} from '../ui/format.js'
import {settleInterrupted} from '../ui/pending.js'
import {type BulkFlow, type BulkInput, requireDestination, runBulkJob} from './bulk.js'
import {CANCELLED} from './io.js'

/** What a policy run did, or would do. */
export interface KeysRotatePolicyResult {
  olderThan: string
  cutoffAt: string
  matchedCount: number
  rotatedCount: number
  dryRun: boolean
  cancelled?: true
  /** The keys a dry run would rotate (fingerprints, never keys). */
  keys?: OldKey[]
  userIds: string[]
  destination: Destination | null
  durationMs: number
}

export interface RotateByAgeInput extends BulkInput {
  /** The age as typed (`90d`), and the instant it names. */
  olderThan: string
  cutoff: Date
  yes?: boolean
  batchSize?: number
}

export const rotateByAgeFlow: BulkFlow<RotateByAgeInput, KeysRotatePolicyResult> = async (
  io,
  open,
  input,
  ctx,
) => {
  const dryRun = await requireDestination(io, input, 'A bulk rotation')
  const database = await open()
  // An earlier run cut short (SIGKILL) gets its keys named or removed first.
  if (!dryRun) await settleInterrupted(database.db, (line) => io.warn(line))
  const cutoff = input.cutoff.toISOString()
  const base = {olderThan: input.olderThan, cutoffAt: cutoff, dryRun}
  const old = await listOldKeys(database.db, input.cutoff)
  const elapsed = () => Date.now() - input.started
  if (dryRun) {
    if (old.length > 0) {
      io.log(
        renderTable(old, [
          {header: 'USER ID', value: (k) => k.userId},
          {header: 'FINGERPRINT', value: (k) => k.keyFingerprint, fixed: true},
          {header: 'CREATED', value: (k) => formatDate(k.createdAt, 'unknown'), fixed: true},
        ]),
      )
    }
    io.note(
      `Dry run: ${old.length} active key(s) created before ${cutoff} would be rotated; nothing changed.`,
    )
    const userIds = old.map((k) => k.userId)
    return {
      ...base,
      matchedCount: old.length,
      rotatedCount: 0,
      keys: old,
      userIds,
      destination: null,
      durationMs: elapsed(),
    }
  }
  const nothing = {...base, rotatedCount: 0, userIds: [], destination: null}
  if (old.length === 0) {
    io.note(`No active key was created before ${cutoff}; nothing to rotate.`)
    return {...nothing, matchedCount: 0, durationMs: elapsed()}
  }
  const ok = await io.confirm({
    yes: input.yes,
    action: `rotate ${old.length} key(s)`,
    message: `Rotate ${old.length} active key(s) created before ${cutoff}? Their current keys stop working at once.`,
  })
  if (!ok) {
    io.log(CANCELLED)
    return {...nothing, matchedCount: old.length, cancelled: true, durationMs: elapsed()}
  }
  const {result, destination, durationMs} = await runBulkJob(
    io,
    database,
    {
      label: 'Rotating',
      command: 'keys rotate --older-than',
      delivery: input.delivery,
      run: (hooks) =>
        rotateKeysOlderThan(
          database.db,
          {
            cutoff: input.cutoff,
            keyLength: input.keyLength,
            batchSize: input.batchSize ?? DEFAULT_ROTATION_BATCH,
            reason: `keys rotate --older-than ${input.olderThan}`,
          },
          ctx,
          hooks,
        ),
      done: (r, seconds) => ({
        keys: r.rotated,
        summary: `Rotated ${r.rotated} key(s) created before ${r.cutoff} in ${seconds} s; the old keys no longer work.`,
      }),
    },
    input.started,
  )
  return {
    ...base,
    matchedCount: old.length,
    rotatedCount: result.rotated,
    userIds: result.userIds,
    destination,
    durationMs,
  }
}
