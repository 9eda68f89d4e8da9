/**
 * The embedded database (PGlite) is single-process: its data directory is
 * guarded by a lock file (proper-lockfile). The lock's mtime is refreshed
 * while held, so a lock left by a killed process goes stale and is cleared
 * by the next run.
 */
import path from 'node:path'
import lockfile from 'proper-lockfile'
import {BusyError} from '../errors.js'

const STALE_MS = 4000
const UPDATE_MS = 1000

export async function lockDataDir(dataDir: string, waitMs: number): Promise<() => Promise<void>> {
  const lockfilePath = path.join(path.dirname(dataDir), `${path.basename(dataDir)}.lock`)
  const deadline = Date.now() + Math.max(0, waitMs)
  for (;;) {
    try {
      const release = await lockfile.lock(dataDir, {
        lockfilePath,
        realpath: false,
        stale: STALE_MS,
        update: UPDATE_MS,
        retries: 0,
        onCompromised: () => {
          // Another process took over a lock we thought we held (clock jump or
          // a stall longer than STALE_MS). Stop before touching the data dir.
          process.stderr.write('Error: lost the lock on the embedded database; stopping.\n')
          process.exit(75)
        },
      })
      let released = false
      return async () => {
        if (released) return
        released = true
        await release().catch(() => {})
      }
    } catch (error) {
      if ((error as {code?: string}).code !== 'ELOCKED') throw error
      if (Date.now() >= deadline) {
        throw new BusyError(
          `The embedded database at ${dataDir} is in use by another openmemory process; try again when it has finished.`,
        )
      }
      await new Promise((r) => setTimeout(r, 150))
    }
  }
}
