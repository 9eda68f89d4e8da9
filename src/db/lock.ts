/**
 * The embedded database (PGlite) is single-process: one process at a time
 * may open a data directory.
 *
 * On Linux the exclusion is held by the kernel: the holder listens on an
 * abstract Unix socket named after the data directory (its parent's device
 * and inode, plus its name). Binding that name again fails while the holder
 * lives, however long its event loop is blocked by a query, and the kernel
 * frees it the moment the holder dies (SIGKILL included), so the next run
 * takes over at once. Nothing is judged by time, so a live holder's lock
 * cannot be taken from it.
 *
 * Elsewhere (no abstract sockets), a lock file created exclusively holds the
 * holder's PID; it is taken over only when that process no longer exists.
 */
import {createHash, randomBytes} from 'node:crypto'
import {readFileSync, statSync, unlinkSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import {BusyError} from '../errors.js'

const RETRY_MS = 100

export type Release = () => Promise<void>

/** The lock's name for a data directory: the same directory gives the same name, by whatever path. */
export function lockName(dataDir: string): string {
  const parent = statSync(path.dirname(dataDir))
  const id = `${parent.dev}:${parent.ino}/${path.basename(dataDir)}`
  return `openmemory-pglite-${createHash('sha256').update(id).digest('hex').slice(0, 32)}`
}

/**
 * Take the data directory, waiting up to `waitMs` for another process to let
 * go of it; then throw BusyError (exit 75). The parent directory must exist.
 */
export async function lockDataDir(dataDir: string, waitMs: number): Promise<Release> {
  const attempt = process.platform === 'linux' ? socketLock(lockName(dataDir)) : pidFileLock(dataDir)
  const deadline = Date.now() + Math.max(0, waitMs)
  for (;;) {
    const release = await attempt()
    if (release) return release
    if (Date.now() >= deadline) {
      throw new BusyError(
        `The embedded database at ${dataDir} is in use by another openmemory process; try again when it has finished.`,
      )
    }
    await new Promise((r) => setTimeout(r, RETRY_MS))
  }
}

/** Linux: listen on an abstract socket (a leading NUL byte: no file, gone with the process). */
function socketLock(name: string): () => Promise<Release | undefined> {
  return () =>
    new Promise((resolve, reject) => {
      const server = net.createServer((socket) => socket.destroy())
      server.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'EADDRINUSE') resolve(undefined)
        else reject(error)
      })
      server.listen({path: `\0${name}`, exclusive: true}, () => {
        // The lock must not keep the process alive on its own.
        server.unref()
        let released = false
        resolve(async () => {
          if (released) return
          released = true
          await new Promise<void>((done) => server.close(() => done()))
        })
      })
    })
}

/** Other platforms: `<dataDir>.lock` holds the holder's PID; a dead holder's file is replaced. */
function pidFileLock(dataDir: string): () => Promise<Release | undefined> {
  const file = path.join(path.dirname(dataDir), `${path.basename(dataDir)}.lock`)
  const token = `${process.pid} ${randomBytes(8).toString('hex')}\n`
  return async () => {
    try {
      writeFileSync(file, token, {flag: 'wx', mode: 0o600})
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const text = readText(file)
      const holder = Number.parseInt(text, 10)
      if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) return undefined
      // Created but not yet written: wait, unless its writer died long ago.
      if (text === '' && Date.now() - mtimeMs(file) < 10_000) return undefined
      // The holder is gone: remove its file and try again.
      try {
        unlinkSync(file)
      } catch {}
      return undefined
    }
    let released = false
    return async () => {
      if (released) return
      released = true
      if (readText(file) === token) unlinkSync(file)
    }
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

function mtimeMs(file: string): number {
  try {
    return statSync(file).mtimeMs
  } catch {
    return Date.now()
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
