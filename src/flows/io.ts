/**
 * What a flow (src/flows/*.ts) may do besides reading and writing the
 * database: say things and ask. The base command builds one from --json,
 * --yes and the terminal; the interactive menu builds one from its prompts.
 * A flow never prints or prompts any other way, so a command and its menu
 * entry show the same messages, notes, warnings and errors.
 */
import type {Output} from '../ui/output.js'
import type {Progress} from '../ui/progress.js'

export interface FlowIO extends Output {
  /**
   * Ask before a change, defaulting to No. `yes` (--yes) passes at once;
   * with no terminal to ask on, exit 2 naming `action`, nothing changed.
   */
  confirm(question: {yes?: boolean; action: string; message: string}): Promise<boolean>
  /** Fail at once (exit 2) when a confirmation would be needed but cannot be asked. */
  assertCanConfirm(question: {yes?: boolean; action: string}): void
  /** A progress bar on stderr: a no-op off a terminal and under --json. */
  progress(label: string): Promise<Progress>
}

/** The message every flow prints when the operator declines. */
export const CANCELLED = 'Cancelled; nothing changed.'
