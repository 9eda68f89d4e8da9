/** Delete a user (`users delete`, the menu): the rows per table, ask, delete in one transaction. */
import type {Db} from '../db/client.js'
import type {ServiceContext} from '../services/context.js'
import {type DeleteResult, deleteUser} from '../services/lifecycle.js'
import {deletionQuestion, deletionTable, otherOwnersTable, vectorStoreNote} from '../ui/render.js'
import {sanitize as s} from '../ui/sanitize.js'
import type {FlowIO} from './io.js'

export type DeleteFlowResult = DeleteResult & {cancelled?: true}

export async function deleteFlow(
  io: FlowIO,
  db: Db,
  input: {userId: string; dryRun?: boolean; yes?: boolean},
  ctx: ServiceContext,
): Promise<DeleteFlowResult> {
  const {userId} = input
  const show = (plan: DeleteResult, verb: string) => {
    io.log(`${verb}:`)
    io.log(deletionTable(plan))
    const others = otherOwnersTable(plan)
    if (others) io.log(others)
  }
  if (input.dryRun) {
    const plan = await deleteUser(db, userId, {dryRun: true}, ctx)
    show(plan, 'Would delete')
    io.log('Nothing deleted (dry run).')
    return plan
  }
  if (!input.yes) {
    // Fail before showing anything when there is no terminal to ask on.
    io.assertCanConfirm({yes: input.yes, action: `delete user ${s(userId)}`})
    const plan = await deleteUser(db, userId, {dryRun: true}, ctx)
    show(plan, 'Will delete')
    if (!(await io.confirm({action: `delete user ${s(userId)}`, message: deletionQuestion(plan)}))) {
      io.log('Cancelled; nothing deleted.')
      return {...plan, cancelled: true}
    }
  }
  const r = await deleteUser(db, userId, {}, ctx)
  io.log(`Deleted user ${s(userId)} (${r.rowCount} rows).`)
  io.note(vectorStoreNote(s(userId)))
  return r
}
