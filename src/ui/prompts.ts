/**
 * The one place prompts live. @inquirer/prompts is imported lazily, never
 * when there is no terminal or under --json: then a missing input is exit 2
 * naming it, never a prompt that would hang a cron job. Ctrl-C at a prompt
 * surfaces as InterruptedError (exit 130, quiet).
 */
import {InterruptedError, MissingInputError, ValidationError} from '../errors.js'

export function isInteractive(json = false): boolean {
  if (json) return false
  if (process.env.OPENMEMORY_NO_PROMPT === '1') return false
  return Boolean(process.stdin.isTTY && process.stderr.isTTY)
}

async function guard<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (error) {
    const name = (error as Error).name
    if (name === 'ExitPromptError' || name === 'AbortPromptError') throw new InterruptedError()
    throw error
  }
}

/** Prompt for a required text value, or fail with exit 2 naming it when no prompt is possible. */
export async function askText(opts: {
  name: string
  message: string
  json?: boolean
  default?: string
  validate?: (value: string) => string | undefined
  hint?: string
}): Promise<string> {
  if (!isInteractive(opts.json)) throw new MissingInputError(opts.name, opts.hint)
  const {input} = await import('@inquirer/prompts')
  return guard(() =>
    input(
      {
        message: opts.message,
        default: opts.default,
        validate: (v: string) => opts.validate?.(v) ?? true,
      },
      {output: process.stderr},
    ),
  )
}

/** Yes/no on a terminal, defaulting to No. */
export async function confirm(
  message: string,
  opts: {json?: boolean; default?: boolean} = {},
): Promise<boolean> {
  if (!isInteractive(opts.json))
    throw new MissingInputError('confirmation', 'pass --yes to run without a terminal')
  const prompts = await import('@inquirer/prompts')
  return guard(() => prompts.confirm({message, default: opts.default ?? false}, {output: process.stderr}))
}

/**
 * Gate for destructive commands: --yes passes; on a terminal, ask (default
 * No); otherwise exit 2 without changing anything. Returns false when the
 * operator declined.
 */
export async function confirmDestructive(opts: {
  yes?: boolean
  json?: boolean
  message: string
  action: string
}): Promise<boolean> {
  if (opts.yes) return true
  assertCanConfirm(opts)
  return confirm(opts.message, {default: false})
}

/** Fail at once (exit 2, nothing changed) when a confirmation would be needed but cannot be asked. */
export function assertCanConfirm(opts: {yes?: boolean; json?: boolean; action: string}): void {
  if (opts.yes || isInteractive(opts.json)) return
  throw new ValidationError(
    `Refusing to ${opts.action} without confirmation: pass --yes (there is no terminal to ask on).`,
  )
}

/** The userId argument, asked for on a terminal when missing. */
export async function requireUserId(
  value: string | undefined,
  json: boolean,
  usage: string,
): Promise<string> {
  if (value !== undefined) return value
  const {userIdProblem} = await import('../services/validation.js')
  return askText({name: 'userId', message: 'userId', json, validate: userIdProblem, hint: usage})
}
