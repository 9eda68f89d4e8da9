/**
 * Where a command that checks an existing key gets it: `--key`, else stdin
 * (piped: the first line; a masked prompt on a terminal). Never echoed.
 */
import {MissingInputError} from '../errors.js'
import {readSecret} from './stdin.js'

const HINT = "pipe it on stdin (for example '< charlie.key') or pass --key"

export async function readKey(opts: {flag?: string; json?: boolean}): Promise<string> {
  const key = opts.flag !== undefined ? opts.flag.trim() : await readStdin(opts.json)
  if (key === '') throw new MissingInputError('key', HINT)
  return key
}

async function readStdin(json?: boolean): Promise<string> {
  // Under --json there is no prompt: a terminal on stdin means no key was piped.
  if (json && process.stdin.isTTY) return ''
  return readSecret('API key')
}
