/** Rotate one user's key (`keys rotate <userId>`, the menu): preview, ask, replace, deliver once. */
import type {Db} from '../db/client.js'
import {FailedAfterCommitError} from '../errors.js'
import type {ServiceContext} from '../services/context.js'
import {
  type KeysRotateResult,
  previewRotation,
  type RotationPreview,
  rotateKey,
} from '../services/key-lifecycle.js'
import {type KeyDelivery, type KeyFlags, KeyOutput} from '../ui/key-output.js'
import {settleInterrupted} from '../ui/pending.js'
import {MCP_SESSION_NOTE, rotationMessage} from '../ui/render.js'
import {sanitize as s} from '../ui/sanitize.js'
import {CANCELLED, type FlowIO} from './io.js'

export type RotateFlowResult =
  | (Omit<KeysRotateResult, 'apiKey'> & {apiKey: string | null} & KeyDelivery)
  | (RotationPreview & {cancelled?: true})

export async function rotateFlow(
  io: FlowIO,
  db: Db,
  input: {userId: string; keyLength?: number; dryRun?: boolean; yes?: boolean},
  delivery: KeyFlags,
  ctx: ServiceContext,
): Promise<RotateFlowResult> {
  const {userId} = input
  const who = s(userId)
  const preview = await previewRotation(db, userId)
  if (input.dryRun) {
    io.log(
      `Would replace the key of ${who}${preview.previousKeyFingerprint ? ` (${preview.previousKeyFingerprint} would stop working)` : ' (it has no key row; one would be added)'}${preview.keyStatus === 'active' ? '' : '; the user is deactivated, so the new key would stay inactive'}. Nothing changed (dry run).`,
    )
    return preview
  }
  const ok = await io.confirm({
    yes: input.yes,
    action: `rotate the key of ${userId}`,
    message: `Replace the key of ${who}?${preview.previousKeyFingerprint ? ` The current key (${preview.previousKeyFingerprint}) stops working at once.` : ' It has no key row; one will be added.'}`,
  })
  if (!ok) {
    io.log(CANCELLED)
    return {...preview, cancelled: true}
  }
  const output = new KeyOutput(delivery)
  await output.prepare()
  await settleInterrupted(db, (line) => io.warn(line))
  const r = await output.change(io, {db, command: 'keys rotate'}, (hooks) =>
    rotateKey(db, userId, {keyLength: input.keyLength, ...hooks}, ctx),
  )
  try {
    const message = rotationMessage(r)
    io.log(message.line)
    if (message.warning) io.warn(message.warning)
    if (r.previousKeyFingerprint) io.note(MCP_SESSION_NOTE)
    const delivered = output.deliver(r.apiKey, io)
    return {...r, apiKey: delivered.keyFile ? null : r.apiKey, ...delivered}
  } catch (error) {
    throw new FailedAfterCommitError(
      `the key of ${userId} was replaced by ${r.keyFingerprint}${output.keyFile ? ` (written to ${output.keyFile})` : ' (not shown: rotate again to get a usable key)'} and the old key${r.previousKeyFingerprint ? ` ${r.previousKeyFingerprint}` : ''} no longer works`,
      {
        userId,
        keyFingerprint: r.keyFingerprint,
        previousKeyFingerprint: r.previousKeyFingerprint,
        keyFile: output.keyFile,
      },
      error,
    )
  }
}
