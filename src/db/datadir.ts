/**
 * The embedded database's data directory, checked before PGlite touches it
 * (the caller holds its lock):
 *
 * - missing or empty: a new cluster is created there, behind a marker file
 *   that is removed once it is complete, so a first run killed half-way is
 *   recognised and started again instead of being taken for damage;
 * - a complete cluster: opened;
 * - anything else (a cluster missing a part, someone else's files, a file):
 *   refused with exit 5 naming what is missing. Nothing is ever initialised
 *   over existing files.
 *
 * Its files are private: the directory 0700, every file in it 0600, whatever
 * the umask or the parent's mode. A directory found open to others is
 * tightened, and the caller is told so once.
 */
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import {DatabaseUnavailableError} from '../errors.js'

/** Present while a first run is creating the cluster; removed when it is complete. */
export const INIT_MARKER = '.openmemory-initialising'

/** What every PostgreSQL cluster has: without one of these, it is not a cluster PGlite can open. */
export const CLUSTER_PARTS: readonly {name: string; dir: boolean}[] = [
  {name: 'PG_VERSION', dir: false},
  {name: 'global/pg_control', dir: false},
  {name: 'base', dir: true},
  {name: 'pg_wal', dir: true},
  {name: 'pg_xact', dir: true},
  {name: 'postgresql.conf', dir: false},
]

export type DataDirState = 'new' | 'existing'

export interface PreparedDataDir {
  state: DataDirState
  /** Call once the new cluster is complete (removes the marker). */
  completed(): void
}

/**
 * Decide what to do with the data directory, tighten its permissions and, for
 * a new cluster, create the directory and its marker. Throws
 * DatabaseUnavailableError (exit 5) for anything that is not ours to open.
 */
export function prepareDataDir(
  dataDir: string,
  opts: {pgVersion: string; notify?: (message: string) => void},
): PreparedDataDir {
  const marker = path.join(dataDir, INIT_MARKER)
  const fresh = (): PreparedDataDir => {
    mkdirSync(dataDir, {recursive: true, mode: 0o700})
    chmodSync(dataDir, 0o700)
    writeFileSync(marker, `${process.pid}\n`, {mode: 0o600})
    return {state: 'new', completed: () => rmSync(marker, {force: true})}
  }
  let entries: string[]
  try {
    const stat = statSync(dataDir)
    if (!stat.isDirectory()) throw refuse(dataDir, 'it is not a directory')
    entries = readdirSync(dataDir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fresh()
    throw error
  }
  if (entries.length === 0) return fresh()
  if (entries.includes(INIT_MARKER)) {
    // Our own first run stopped before the cluster was complete: nothing of the user's is in it.
    opts.notify?.(`A previous first run did not finish creating ${dataDir}; creating it again.`)
    for (const entry of entries) rmSync(path.join(dataDir, entry), {recursive: true, force: true})
    return fresh()
  }
  const missing = CLUSTER_PARTS.filter((part) => !hasPart(dataDir, part)).map((p) => p.name)
  if (missing.length > 0) {
    throw refuse(
      dataDir,
      `it is not empty but is not a complete database (missing ${missing.join(', ')})`,
      'Restore it from a backup, or move it away (or set OPENMEMORY_DATA_DIR to an empty or new directory) to create a new one',
    )
  }
  const version = readFileSync(path.join(dataDir, 'PG_VERSION'), 'utf8').trim()
  if (version !== opts.pgVersion) {
    throw refuse(
      dataDir,
      `it holds a PostgreSQL ${version.slice(0, 20)} database, and this openmemory embeds PostgreSQL ${opts.pgVersion}`,
      'Use the openmemory version that created it, or move it away to create a new one',
    )
  }
  tightenPermissions(dataDir, opts.notify)
  return {state: 'existing', completed: () => {}}
}

function hasPart(dataDir: string, part: {name: string; dir: boolean}): boolean {
  try {
    const stat = lstatSync(path.join(dataDir, part.name))
    return part.dir ? stat.isDirectory() : stat.isFile()
  } catch {
    return false
  }
}

function refuse(
  dataDir: string,
  why: string,
  what = 'Point OPENMEMORY_DATA_DIR at another directory',
): Error {
  return new DatabaseUnavailableError(
    `Refusing to use ${dataDir} as the embedded database: ${why}. Nothing was changed. ${what}.`,
  )
}

/**
 * Make the directory 0700 and everything in it 0700 (directories) or 0600
 * (files). Says once how many entries it changed, if any.
 */
export function tightenPermissions(dataDir: string, notify?: (message: string) => void): number {
  let changed = 0
  const visit = (p: string, isDir: boolean) => {
    const want = isDir ? 0o700 : 0o600
    const mode = lstatSync(p).mode & 0o777
    if (mode !== want) {
      chmodSync(p, want)
      changed++
    }
    if (!isDir) return
    for (const entry of readdirSync(p, {withFileTypes: true})) {
      // Symbolic links are left alone (chmod would follow them out of the directory).
      if (entry.isSymbolicLink()) continue
      visit(path.join(p, entry.name), entry.isDirectory())
    }
  }
  visit(dataDir, true)
  if (changed > 0) {
    notify?.(
      `Made ${dataDir} private: ${changed} file(s) and folder(s) were readable or writable by others; now only you can read them (folders 0700, files 0600).`,
    )
  }
  return changed
}
