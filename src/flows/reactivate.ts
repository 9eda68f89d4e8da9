/** Reactivate a user (`users reactivate`, the menu): restore exactly what deactivation switched off. */
import type {Db} from '../db/client.js'
import type {ServiceContext} from '../services/context.js'
import {type ReactivateResult, reactivateUser} from '../services/lifecycle.js'
import {reactivationMessage} from '../ui/render.js'
import type {FlowIO} from './io.js'

export async function reactivateFlow(
  io: FlowIO,
  db: Db,
  input: {userId: string},
  ctx: ServiceContext,
): Promise<ReactivateResult> {
  const r = await reactivateUser(db, input.userId, ctx)
  io.log(reactivationMessage(r))
  return r
}
