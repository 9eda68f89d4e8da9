/**
 * The one place prompts live. @inquirer/prompts is imported lazily, never
 * when there is no terminal or under --json: then a missing input is exit 2
 * naming it, never a prompt that would hang a cron job. Ctrl-C at a prompt
 * surfaces as InterruptedError (exit 130, quiet).
 */
import {InterruptedError, MissingInputError} from '../errors.js'

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
