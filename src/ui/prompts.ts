/**
 * The one place prompts live. @inquirer/prompts is imported lazily, never
 * when there is no terminal or under --json: then a missing input is exit 2
 * naming it, never a prompt that would hang a cron job. Ctrl-C or Esc at a
 * prompt surfaces as InterruptedError (exit 130, quiet).
 */
import {emitKeypressEvents} from 'node:readline'
import type {Separator as PromptSeparator} from '@inquirer/select'
import type {Db, WithDb} from '../db/client.js'
import {BackError, InterruptedError, MissingInputError, NotFoundError, ValidationError} from '../errors.js'
import {colors} from './format.js'
import {sanitize, terminalSafe} from './sanitize.js'

/**
 * Where prompts read and write. The defaults are the terminal (stdin, and
 * stderr so stdout stays pipeable); tests drive the same prompts through
 * streams of their own.
 */
export interface PromptStreams {
  input?: NodeJS.ReadableStream
  output?: NodeJS.WritableStream
  /** Overrides the terminal check (tests). */
  interactive?: boolean
}

let streams: PromptStreams = {}

/** What runs around every prompt (the menu closes its database while one waits: src/interactive/lease.ts). */
export interface PromptHooks {
  beforePrompt(): Promise<void>
  /** After an answer, before the caller goes on. */
  afterPrompt(): Promise<void>
}

let hooks: PromptHooks | undefined

/** Run these around every prompt from now on; undefined: none. */
export function setPromptHooks(next: PromptHooks | undefined): void {
  hooks = next
}

/** Route every prompt through these streams (tests); `{}` restores the terminal. */
export function setPromptStreams(next: PromptStreams): void {
  streams = next
}

export function isInteractive(json = false): boolean {
  if (json) return false
  if (streams.interactive !== undefined) return streams.interactive
  if (process.env.OPENMEMORY_NO_PROMPT === '1') return false
  return Boolean(process.stdin.isTTY && process.stderr.isTTY)
}

interface PromptContext {
  input?: NodeJS.ReadableStream
  output: NodeJS.WritableStream
  signal: AbortSignal
  clearPromptOnDone: boolean
}

/**
 * Run one prompt: Ctrl-C becomes InterruptedError, Esc BackError (one step
 * back; outside the menu it leaves as Ctrl-C does). Inquirer handles Ctrl-C
 * itself; Esc is watched here on the same input and aborts the prompt.
 * The prompt is erased when it ends, so Ctrl-C or Esc leave no half-typed
 * answer that looks accepted; an answer is then written as the line
 * `✔ question answer` (`answered` gives the answer as shown; none for a pause).
 */
async function guard<T>(
  run: (context: PromptContext) => Promise<T>,
  answered?: {message: string; shown: (answer: T) => string},
): Promise<T> {
  const output = streams.output ?? process.stderr
  const input = streams.input ?? process.stdin
  const controller = new AbortController()
  const onKey = (_: string, key?: {name?: string}) => {
    if (key?.name === 'escape') controller.abort()
  }
  await hooks?.beforePrompt()
  emitKeypressEvents(input)
  input.on('keypress', onKey)
  try {
    const answer = await run({
      input: streams.input,
      output,
      signal: controller.signal,
      clearPromptOnDone: true,
    })
    if (answered) {
      const c = colors(process.stderr)
      output.write(`${c.green('✔')} ${c.bold(answered.message)} ${c.cyan(answered.shown(answer))}\n`)
    }
    await hooks?.afterPrompt()
    return answer
  } catch (error) {
    const name = (error as Error).name
    if (name === 'AbortPromptError' && controller.signal.aborted) throw new BackError()
    if (name === 'ExitPromptError' || name === 'AbortPromptError') throw new InterruptedError()
    throw error
  } finally {
    input.removeListener('keypress', onKey)
  }
}

/** Prompt for a required text value, or fail with exit 2 naming it when no prompt is possible. */
export async function askText(opts: {
  name: string
  message: string
  json?: boolean
  default?: string
  validate?: (value: string) => string | undefined
  /** A check that needs the database (a taken userId): run on Enter, its refusal keeps the input. */
  check?: (value: string) => Promise<string | undefined>
  hint?: string
}): Promise<string> {
  if (!isInteractive(opts.json)) throw new MissingInputError(opts.name, opts.hint)
  const {input} = await import('./inquirer.js')
  // A refusal is shown once, beside the value (not again below it): the rule's as it is typed,
  // the database's (check) from the Enter that asked it until the value changes.
  let refused: {value: string; problem: string} | undefined
  const problemOf = (value: string) =>
    opts.validate?.(value) ?? (refused?.value === value ? refused.problem : undefined)
  const message = terminalSafe(opts.message)
  return guard(
    (context) =>
      input(
        {
          message,
          default: opts.default,
          validate: async (v: string) => {
            const problem = opts.validate?.(v) ?? (await opts.check?.(v))
            refused = problem ? {value: v, problem} : undefined
            return problem ?? true
          },
          theme: {style: {error: () => ''}},
          transformer: (value: string, {isFinal}: {isFinal: boolean}) => {
            // What is typed is echoed: escaped, so a pasted escape sequence stays inert.
            const shown = sanitize(value)
            if (isFinal || value === '' || (!opts.validate && !refused)) return shown
            const problem = problemOf(value)
            const c = colors(process.stderr)
            return problem ? `${shown}  ${c.red(`✗ ${problem}`)}` : `${shown}  ${c.green('✓')}`
          },
        },
        context,
      ),
    {message, shown: sanitize},
  )
}

/**
 * Wait for Enter (a new key on screen stays there until the operator has
 * stored it). Esc or Ctrl-C leave as at any prompt.
 */
export async function pause(message: string): Promise<void> {
  if (!isInteractive()) return
  const {input} = await import('./inquirer.js')
  await guard((context) =>
    input({message: terminalSafe(message), transformer: () => '', theme: {prefix: ''}}, context),
  )
}

/** Yes/no on a terminal, defaulting to No. */
export async function confirm(
  message: string,
  opts: {json?: boolean; default?: boolean} = {},
): Promise<boolean> {
  if (!isInteractive(opts.json))
    throw new MissingInputError('confirmation', 'pass --yes to run without a terminal')
  const prompts = await import('./inquirer.js')
  const shownMessage = terminalSafe(message)
  return guard(
    (context) => prompts.confirm({message: shownMessage, default: opts.default ?? false}, context),
    {message: shownMessage, shown: (yes) => (yes ? 'Yes' : 'No')},
  )
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

/**
 * The userId argument, asked for on a terminal when missing: a searchable
 * list of the database's users when `source` gives the database, else typed
 * (any existing userId: only empty or control characters are refused). No terminal (or --json): exit 2 naming it.
 */
export async function requireUserId(
  value: string | undefined,
  json: boolean,
  usage: string,
  source?: () => Promise<Db>,
): Promise<string> {
  if (value !== undefined) return value
  if (!isInteractive(json)) throw new MissingInputError('userId', usage)
  if (source) {
    const db = await source()
    return pickUser((fn) => fn(db))
  }
  const {userRefProblem} = await import('../services/validation.js')
  return askText({name: 'userId', message: 'userId', json, validate: userRefProblem, hint: usage})
}

/** How many users the picker lists at once: it queries again as the operator types. */
export const PICK_LIMIT = 15

/**
 * Choose a user from a list filled from the database as the operator types
 * (userId prefix, or part of the name or email): a bounded query per
 * keystroke, never all users. NotFoundError when there are no users at all.
 */
export async function pickUser(use: WithDb, opts: {message?: string; json?: boolean} = {}): Promise<string> {
  if (!isInteractive(opts.json)) throw new MissingInputError('userId')
  const {searchUsers} = await import('../services/users.js')
  if ((await use((db) => searchUsers(db, '', 1))).length === 0) {
    throw new NotFoundError("There are no users yet: create one first ('openmemory users create').", [
      'openmemory users create',
    ])
  }
  const {search, Separator} = await import('./inquirer.js')
  const message = opts.message ?? 'User (type to filter)'
  return guard(
    (context) =>
      search<string>(
        {
          message,
          pageSize: 10,
          source: async (term) => {
            const found = await use((db) => searchUsers(db, term ?? '', PICK_LIMIT))
            const choices: (PromptSeparator | {value: string; short: string; name: string})[] = found.map(
              (u) => ({
                value: u.userId,
                short: sanitize(u.userId),
                name: `${sanitize(u.userId)}${u.name ? `  ${sanitize(u.name)}` : ''}${u.email ? ` <${sanitize(u.email)}>` : ''}${u.deactivated ? '  (deactivated)' : ''}`,
              }),
            )
            if (found.length === PICK_LIMIT) choices.push(new Separator('  … more: type to narrow the list'))
            return choices
          },
        },
        context,
      ),
    {message, shown: sanitize},
  )
}

/** One of a few choices (a menu). */
export async function choose<T>(
  message: string,
  choices: {name: string; value: T; description?: string}[],
  opts: {default?: T; pageSize?: number} = {},
): Promise<T> {
  if (!isInteractive()) throw new MissingInputError('choice')
  const {select} = await import('./inquirer.js')
  const shownMessage = terminalSafe(message)
  const shown = choices.map((c) => ({...c, name: sanitize(c.name)}))
  return guard(
    (context) =>
      select<T>(
        {
          message: shownMessage,
          choices: shown,
          default: opts.default,
          pageSize: opts.pageSize ?? choices.length,
        },
        context,
      ),
    {message: shownMessage, shown: (answer) => shown.find((c) => c.value === answer)?.name ?? ''},
  )
}

/**
 * Where a new key goes: shown once on screen (the default), or written to a
 * new file with mode 0600. Returns the file path, or undefined for the screen.
 */
export async function askKeyFile(): Promise<string | undefined> {
  const where = await choose('Where should the new key go?', [
    {name: 'Show it once on screen', value: 'screen' as const},
    {name: 'Write it to a new file (mode 0600)', value: 'file' as const},
  ])
  if (where === 'screen') return undefined
  // The rule the key output applies before writing (a new path in a private, writable
  // directory), asked on Enter: a refused path keeps what was typed.
  const {checkNewPath} = await import('./pending.js')
  return askText({
    name: 'key file',
    message: 'Key file path',
    validate: (v) => (v.trim() === '' ? 'Type a path for the new file.' : undefined),
    check: async (v) => {
      try {
        await checkNewPath(v.trim(), 'Key file')
        return undefined
      } catch (error) {
        return (error as Error).message
      }
    },
  }).then((v) => v.trim())
}

/** One answer a flow needs: asked on a terminal, checked with the flow's rule as it is typed. */
export interface InputStep {
  name: string
  message: string
  /** The default, from the answers before it (e.g. the display name from the userId). */
  default?: (answers: Record<string, string>) => string | undefined
  validate: (value: string) => string | undefined
}

/** Checks of a flow's steps that need the database, by step name, given the answers so far. */
export type StepChecks = Record<
  string,
  (value: string, answers: Record<string, string>) => Promise<string | undefined>
>

/**
 * Ask a flow's input steps in order (the flow owns them: see src/flows/);
 * no terminal or --json: exit 2 naming the first one.
 */
export async function askSteps(
  steps: readonly InputStep[],
  opts: {json?: boolean; hint?: string; checks?: StepChecks} = {},
): Promise<Record<string, string>> {
  const answers: Record<string, string> = {}
  const earlier: Record<string, string> = {}
  // Esc goes back one step, its earlier answer offered again; from the first, back to the caller.
  for (let i = 0; i < steps.length; ) {
    const step = steps[i] as InputStep
    const check = opts.checks?.[step.name]
    try {
      answers[step.name] = await askText({
        name: step.name,
        message: step.message,
        json: opts.json,
        default: earlier[step.name] ?? step.default?.(answers),
        validate: step.validate,
        check: check ? (value) => check(value, answers) : undefined,
        hint: opts.hint,
      })
      i++
    } catch (error) {
      if (!(error instanceof BackError) || i === 0) throw error
      i--
      const back = (steps[i] as InputStep).name
      earlier[back] = answers[back] as string
      delete answers[back]
    }
  }
  return answers
}
