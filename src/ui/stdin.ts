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

/** The whole of a file, or of stdin for `-`, as UTF-8: at most `maxBytes` (exit 2 beyond). */
export async function readInputText(file: string, maxBytes: number): Promise<{text: string; source: string}> {
  const {ValidationError} = await import('../errors.js')
  const tooBig = (source: string) =>
    new ValidationError(`${source} is larger than ${Math.round(maxBytes / 1048576)} MiB; split it.`)
  if (file === '-') {
    if (process.stdin.isTTY) {
      throw new ValidationError("Reading '-' means stdin, which is a terminal: pipe the file in, or name it.")
    }
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of process.stdin) {
      size += (chunk as Buffer).length
      if (size > maxBytes) throw tooBig('stdin')
      chunks.push(chunk as Buffer)
    }
    return {text: Buffer.concat(chunks).toString('utf8'), source: 'stdin'}
  }
  const {readFileSync, statSync} = await import('node:fs')
  let size: number
  try {
    const st = statSync(file)
    if (!st.isFile()) throw new ValidationError(`${file} is not a file.`)
    size = st.size
  } catch (error) {
    if (error instanceof ValidationError) throw error
    throw new ValidationError(
      `Cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}): check the path.`,
    )
  }
  if (size > maxBytes) throw tooBig(file)
  return {text: readFileSync(file, 'utf8'), source: file}
}
