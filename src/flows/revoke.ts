/** Revoke a user's key (`keys revoke`, the menu): preview, ask, make the key inactive. */
import type {Db} from '../db/client.js'
import type {ServiceContext} from '../services/context.js'
import {type KeysRevokeResult, revokeKey} from '../services/key-lifecycle.js'
import {MCP_SESSION_NOTE, revocationMessage} from '../ui/render.js'
import {sanitize as s} from '../ui/sanitize.js'
import {CANCELLED, type FlowIO} from './io.js'

export type RevokeFlowResult = KeysRevokeResult & {cancelled?: true}

export async function revokeFlow(
  io: FlowIO,
  db: Db,
  input: {userId: string; dryRun?: boolean; yes?: boolean},
  ctx: ServiceContext,
): Promise<RevokeFlowResult> {
  const {userId} = input
  const preview = await revokeKey(db, userId, ctx, {dryRun: true})
  if (input.dryRun || !preview.changed) {
    // dryRun is true only when --dry-run was given (not for "already revoked").
    const r = {...preview, dryRun: input.dryRun === true}
    io.log(revocationMessage(r))
    return r
  }
  const ok = await io.confirm({
    yes: input.yes,
    action: `revoke the key of ${userId}`,
    message: `Revoke the key of ${s(userId)} (${preview.keyFingerprint})? It stops working at once; 'keys rotate' issues a new one.`,
  })
  if (!ok) {
    io.log(CANCELLED)
    return {...preview, changed: false, dryRun: false, cancelled: true}
  }
  const r = await revokeKey(db, userId, ctx)
  io.log(revocationMessage(r))
  if (r.changed) io.note(MCP_SESSION_NOTE)
  return r
}
