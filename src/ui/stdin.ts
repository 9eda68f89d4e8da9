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
    const {password} = await import('./inquirer.js')
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

/** The input of a run, in the tool's own 0600 copy (read more than once), and how to name it. */
export interface SpooledInput {
  path: string
  source: string
  /** Remove the copy (also done if the process exits first). */
  remove(): void
}

/**
 * A file, or stdin for `-`, copied into a private temporary file (a 0700
 * folder, the file 0600) so it can be read more than once and cannot change
 * between the reads: at most `maxBytes` (exit 2 beyond). The copy goes when
 * the run ends, however it ends short of SIGKILL.
 */
export async function spoolInput(file: string, maxBytes: number): Promise<SpooledInput> {
  const fs = await import('node:fs')
  const os = await import('node:os')
  const path = await import('node:path')
  const {pipeline} = await import('node:stream/promises')
  const tooBig = (source: string) =>
    new ValidationError(`${source} is larger than ${Math.round(maxBytes / 1048576)} MiB; split it.`)
  let input: NodeJS.ReadableStream & AsyncIterable<Buffer | string>
  let source: string
  if (file === '-') {
    if (process.stdin.isTTY) {
      throw new ValidationError("Reading '-' means stdin, which is a terminal: pipe the file in, or name it.")
    }
    input = process.stdin
    source = 'stdin'
  } else {
    let fd: number
    try {
      fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
    } catch (error) {
      throw new ValidationError(
        `Cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}): check the path.`,
      )
    }
    const st = fs.fstatSync(fd)
    if (!st.isFile()) {
      fs.closeSync(fd)
      throw new ValidationError(`${file} is not a file.`)
    }
    if (st.size > maxBytes) {
      fs.closeSync(fd)
      throw tooBig(file)
    }
    input = fs.createReadStream('', {fd})
    source = file
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openmemory-input-'))
  const copy = path.join(dir, 'input.csv')
  const remove = () => {
    process.removeListener('exit', remove)
    fs.rmSync(dir, {recursive: true, force: true})
  }
  process.on('exit', remove)
  try {
    let size = 0
    await pipeline(
      input,
      async function* (chunks: AsyncIterable<Buffer | string>) {
        for await (const chunk of chunks) {
          size += chunk.length
          if (size > maxBytes) throw tooBig(source)
          yield chunk
        }
      },
      fs.createWriteStream(copy, {flags: 'wx', mode: 0o600}),
    )
  } catch (error) {
    remove()
    if (error instanceof ValidationError) throw error
    throw new ValidationError(
      `Cannot read ${source} (${(error as NodeJS.ErrnoException).code ?? 'error'}): check the path.`,
    )
  }
  return {path: copy, source, remove}
}
