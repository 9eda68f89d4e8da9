/** Deactivate a user (`users deactivate`, the menu): preview, ask, switch off key and apps. */
import type {Db} from '../db/client.js'
import type {ServiceContext} from '../services/context.js'
import {type DeactivateResult, deactivateUser} from '../services/lifecycle.js'
import {deactivationMessage, deactivationQuestion, MCP_SESSION_NOTE} from '../ui/render.js'
import {CANCELLED, type FlowIO} from './io.js'

export interface DeactivateFlowInput {
  userId: string
  /** Kept with the deactivation and in the audit trail; the menu asks for it only when there is something to do. */
  reason?: string | (() => Promise<string | undefined>)
  dryRun?: boolean
  yes?: boolean
}

export type DeactivateFlowResult = DeactivateResult & {cancelled?: true}

export async function deactivateFlow(
  io: FlowIO,
  db: Db,
  input: DeactivateFlowInput,
  ctx: ServiceContext,
): Promise<DeactivateFlowResult> {
  const {userId} = input
  const preview = await deactivateUser(db, userId, {dryRun: true}, ctx)
  if (input.dryRun || !preview.changed) {
    // dryRun is true only when --dry-run was given (not for "already deactivated").
    const r = {...preview, dryRun: input.dryRun === true}
    io.log(deactivationMessage(r))
    return r
  }
  io.assertCanConfirm({yes: input.yes, action: `deactivate ${userId}`})
  const reason = typeof input.reason === 'function' ? await input.reason() : input.reason
  const ok = await io.confirm({
    yes: input.yes,
    action: `deactivate ${userId}`,
    message: deactivationQuestion(preview),
  })
  if (!ok) {
    io.log(CANCELLED)
    return {...preview, changed: false, dryRun: false, cancelled: true}
  }
  const r = await deactivateUser(db, userId, {reason}, ctx)
  io.log(deactivationMessage(r))
  if (r.changed) io.note(MCP_SESSION_NOTE)
  return r
}
