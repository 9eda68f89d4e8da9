/**
 * Read a secret from stdin: the first line of piped input, or a masked
 * prompt on a terminal. Never echoed, never logged.
 */
import {ValidationError} from '../errors.js'
import {isInteractive} from './prompts.js'

/** The most read from stdin for one secret: a key is far shorter. */
export const SECRET_MAX_BYTES = 4096

export async function readSecret(label: string): Promise<string> {
  if (process.stdin.isTTY) {
    if (!isInteractive()) return ''
    const {password} = await import('@inquirer/prompts')
    return (await password({message: label, mask: '*'}, {output: process.stderr})).trim()
  }
  return readFirstLine(process.stdin, label)
}

/**
 * The first line of a stream, trimmed. Reading stops at the first line
 * break (the rest is never read, so `yes KEY | …` answers at once) or after
 * SECRET_MAX_BYTES without one: then it is refused (exit 2).
 */
export async function readFirstLine(
  stream: NodeJS.ReadableStream,
  label: string,
  max = SECRET_MAX_BYTES,
): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  let tooLong = false
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string)
    const newline = buf.indexOf(0x0a)
    const part = newline >= 0 ? buf.subarray(0, newline) : buf
    size += part.length
    if (size > max) {
      tooLong = true
      break
    }
    chunks.push(part)
    if (newline >= 0) break
  }
  // Leaving the loop early destroys the stream: nothing more is read.
  if (tooLong) {
    throw new ValidationError(
      `The ${label} on stdin is longer than ${max} bytes on its first line; pipe only the key (one line).`,
    )
  }
  return Buffer.concat(chunks).toString('utf8').trim()
}
