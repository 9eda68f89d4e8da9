/**
 * The embedded database is one command at a time, and the exclusion holds on
 * the data itself: a kernel lock on a file inside the 0700 directory, held by
 * the server's processes. Processes sharing one data directory are
 * serialised (or exit 75), whatever path, bind mount, symlink or network
 * namespace they reach it through; no other local user can take or block it;
 * a command killed at any moment (SIGKILL, first run included) leaves no
 * server running beyond a few seconds and nothing locked. The long prune with
 * creates waiting behind it runs in `npm run test:heavy` only.
 */
import {spawn, spawnSync} from 'node:child_process'
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {sql} from 'drizzle-orm'
import {afterAll, describe, expect, it} from 'vitest'
import {openDatabase} from '../../src/db/client.js'
import {CLUSTER_DIR, LOCK_FILE, startEmbedded} from '../../src/db/embedded.js'
import {rows} from '../../src/db/sql.js'
import {copyEmbeddedTemplate} from '../helpers/databases.js'
import {BIN} from '../helpers/run.js'
import {HEAVY, keysIn, prng, runCli, seedFromEnv} from './harness.js'

const dir = mkdtempSync(path.join(os.tmpdir(), 'om-rel-embedded-'))
// An existing embedded database (the run's template: no first-run initdb here).
const env = {
  OPENMEMORY_DATA_DIR: copyEmbeddedTemplate(path.join(dir, 'pgdata'), {migrated: true}),
  OPENMEMORY_DATABASE_URL: undefined,
  DATABASE_URL: undefined,
}
afterAll(() => rmSync(dir, {recursive: true, force: true}))
const isRoot = process.getuid?.() === 0

const listUsers = async () => {
  const r = await runCli(['users', 'list', '--json'], {env})
  expect(r.exitCode).toBe(0)
  return (JSON.parse(r.stdout) as {userId: string}[]).map((u) => u.userId)
}

it(
  'concurrent processes on one data directory are serialised or exit 75, never corrupt it',
  {timeout: 600_000},
  async () => {
    const n = HEAVY ? 8 : 4
    const results = await Promise.all(
      Array.from({length: n}, (_, i) => runCli(['users', 'create', `shared_${i}`, '--json'], {env})),
    )
    for (const r of results) expect([0, 75]).toContain(r.exitCode)
    const created = results.flatMap((r, i) => (r.exitCode === 0 ? [`shared_${i}`] : []))
    expect(created.length).toBeGreaterThan(0)
    expect((await listUsers()).filter((u) => u.startsWith('shared_')).sort()).toEqual(created.sort())
    console.log(
      `[reliability] embedded: ${n} concurrent processes, ${created.length} served, ${n - created.length} exit 75`,
    )
  },
)

it(
  'a process killed while holding the data directory leaves one the next run opens',
  {timeout: 600_000},
  async () => {
    const rng = prng(seedFromEnv(99))
    const rounds = HEAVY ? 15 : 3
    let kills = 0
    for (let i = 0; i < rounds; i++) {
      const userId = `killed_${i}`
      // SIGKILL at a random moment after it is seen holding the directory (never before it took it).
      let exited = false
      const r = await runCli(['users', 'create', userId], {
        env,
        killWhen: async () => {
          await heldByAnother(env.OPENMEMORY_DATA_DIR, () => exited)
          // Within the time a create holds it on a quiet machine (about a second): a later kill finds it done.
          await new Promise((resolve) => setTimeout(resolve, rng.int(0, 150)))
          return true
        },
      }).finally(() => {
        exited = true
      })
      if (r.killed) kills++
      const printed = keysIn(r.stdout)
      // The next run takes the dead holder's directory at once and completes the command.
      const again = await runCli(['users', 'create', userId, '--json'], {env})
      expect([0, 4]).toContain(again.exitCode)
      if (printed.length > 0) expect(again.exitCode).toBe(4) // a printed key was committed
      expect(await listUsers()).toContain(userId)
      const verify = await runCli(['keys', 'verify'], {env, input: printed[0] ?? keysIn(again.stdout)[0]})
      if (printed.length > 0 || again.exitCode === 0) expect(verify.exitCode).toBe(0)
    }
    console.log(`[reliability] embedded: ${rounds} rounds, ${kills} kills while holding the data directory`)
    expect(kills).toBeGreaterThan(0)
  },
)

/** Open the embedded directory through the CLI's own code. */
const openDir = (dataDir: string) =>
  openDatabase({kind: 'embedded', dataDir, source: 'OPENMEMORY_DATA_DIR', display: dataDir}, {migrate: true})

/**
 * Whether some process holds the data directory's lock, read from /proc/locks
 * (by the lock file's inode) without taking it: a probe that took it, however
 * briefly, could make a command that does not wait (prune) find it busy.
 */
function locked(dataDir: string): boolean {
  let ino: number
  try {
    ino = statSync(path.join(dataDir, LOCK_FILE)).ino
  } catch {
    return false
  }
  return readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .some((line) => /\bFLOCK\b/.test(line) && line.split(/\s+/).some((f) => f.endsWith(`:${ino}`)))
}

/** Resolve once some process holds the data directory. */
async function heldByAnother(dataDir: string, exited: () => boolean): Promise<void> {
  while (!exited()) {
    if (locked(dataDir)) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error('the holder exited before it was seen holding the data directory')
}

/** PIDs of PostgreSQL processes serving this data directory. */
function servers(dataDir: string): number[] {
  const cluster = path.join(dataDir, CLUSTER_DIR)
  const out: number[] = []
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      if (cmd.some((c) => c.endsWith('/postgres')) && cmd.includes(cluster)) out.push(Number(pid))
    } catch {}
  }
  return out
}

/** Wait up to `ms` for every server of the directory to be gone; the time it took, or -1. */
async function serversGone(dataDir: string, ms: number): Promise<number> {
  const started = Date.now()
  while (Date.now() - started < ms) {
    if (servers(dataDir).length === 0 && !locked(dataDir)) return Date.now() - started
    await new Promise((r) => setTimeout(r, 50))
  }
  return -1
}

/** Run the CLI under a prefix (`unshare -n`, say), not prompting; its exit code and stderr. */
function cliUnder(prefix: string[], argv: string[], extra: Record<string, string | undefined>) {
  const childEnv: Record<string, string> = {}
  for (const [k, v] of Object.entries({...process.env, ...env, OPENMEMORY_NO_PROMPT: '1', ...extra}))
    if (v !== undefined) childEnv[k] = v
  return new Promise<{code: number | null; stderr: string}>((resolve) => {
    const child = spawn(prefix[0] as string, [...prefix.slice(1), process.execPath, BIN, ...argv], {
      env: childEnv,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.on('close', (code) => resolve({code, stderr}))
  })
}

describe('one holder, however the folder is reached', () => {
  // prune-inactive does not wait for the lock: 75 at once while another holds it.
  const probe = ['prune-inactive', '--days', '1', '--dry-run', '--json']
  const canUnshare = isRoot && spawnSync('unshare', ['-n', 'true']).status === 0

  it.skipIf(!canUnshare)(
    'another network namespace, a bind mount and a symlink all find it held (exit 75), and free once let go (root: unshare -n, mount --bind)',
    {timeout: 120_000},
    async () => {
      const dataDir = env.OPENMEMORY_DATA_DIR
      const mounted = path.join(dir, 'bound')
      const linked = path.join(dir, 'linked')
      mkdirSync(mounted)
      symlinkSync(dataDir, linked)
      expect(spawnSync('mount', ['--bind', dataDir, mounted]).status).toBe(0)
      try {
        const ways = [
          {name: 'unshare -n', prefix: ['unshare', '-n'], extra: {}},
          {name: 'bind mount', prefix: ['env'], extra: {OPENMEMORY_DATA_DIR: mounted}},
          {name: 'symlink', prefix: ['env'], extra: {OPENMEMORY_DATA_DIR: linked}},
          {name: 'unshare -n + bind mount', prefix: ['unshare', '-n'], extra: {OPENMEMORY_DATA_DIR: mounted}},
        ]
        const holder = await startEmbedded(dataDir, {lockWaitMs: 0})
        try {
          for (const way of ways) {
            const r = await cliUnder(way.prefix, probe, way.extra)
            expect({way: way.name, code: r.code}).toEqual({way: way.name, code: 75})
          }
        } finally {
          await holder.stop()
        }
        for (const way of ways) {
          const r = await cliUnder(way.prefix, probe, way.extra)
          expect({way: way.name, code: r.code, stderr: r.stderr}).toMatchObject({way: way.name, code: 0})
        }
      } finally {
        spawnSync('umount', [mounted])
      }
    },
  )

  it.skipIf(!isRoot)(
    'another local user can neither take the lock nor reach the server (root: setpriv to nobody)',
    {timeout: 60_000},
    async () => {
      const dataDir = env.OPENMEMORY_DATA_DIR
      const asNobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--']
      const lockFile = path.join(dataDir, LOCK_FILE)
      // Not even while nobody holds it: the folder is closed to other users.
      const take = spawnSync(asNobody[0] as string, [...asNobody.slice(1), 'flock', '-n', lockFile, 'true'], {
        encoding: 'utf8',
      })
      expect(take.status).not.toBe(0)
      expect(take.stderr).toMatch(/Permission denied/)
      const holder = await startEmbedded(dataDir, {lockWaitMs: 0})
      try {
        const socket = path.join(dataDir, CLUSTER_DIR, '.s.PGSQL.5432')
        const reach = spawnSync(
          asNobody[0] as string,
          [
            ...asNobody.slice(1),
            process.execPath,
            '-e',
            `require('net').connect(${JSON.stringify(socket)}).on('connect',()=>process.exit(0)).on('error',(e)=>{console.error(e.code);process.exit(3)})`,
          ],
          {encoding: 'utf8'},
        )
        expect({status: reach.status, stderr: reach.stderr.trim()}).toEqual({status: 3, stderr: 'EACCES'})
      } finally {
        await holder.stop()
      }
      // Still ours, at once.
      expect((await runCli(['users', 'list', '--json'], {env})).exitCode).toBe(0)
    },
  )
})

it(
  'a command killed at any moment, first run included, leaves no server beyond a few seconds and nothing locked',
  {timeout: 600_000},
  async () => {
    const rng = prng(seedFromEnv(7))
    const rounds = HEAVY ? 20 : 4
    const slowest: number[] = []
    let kills = 0
    for (let i = 0; i < rounds; i++) {
      // Half the rounds on a new directory: the kill may land in initdb or the first migration.
      const fresh = i % 2 === 0
      const dataDir = fresh ? path.join(dir, `fresh${i}`) : env.OPENMEMORY_DATA_DIR
      const runEnv = {...env, OPENMEMORY_DATA_DIR: dataDir}
      const r = await runCli(['users', 'create', `kill_${i}`, '--json'], {
        env: runEnv,
        killAfterMs: rng.int(fresh ? 100 : 50, fresh ? 2500 : 900),
      })
      if (r.killed) kills++
      const gone = await serversGone(dataDir, 5000)
      expect({round: i, killed: r.killed, gone: gone >= 0}).toMatchObject({round: i, gone: true})
      slowest.push(gone)
      // The next command opens it at once and works (a first run cut short is made again).
      const next = await runCli(['users', 'create', `next_${i}`, '--json'], {env: runEnv})
      expect(next.exitCode, next.stderr).toBe(0)
      expect(servers(dataDir)).toEqual([])
    }
    expect(kills).toBeGreaterThan(0)
    console.log(
      `[reliability] embedded: ${rounds} rounds, ${kills} killed; every server gone within ${Math.max(...slowest)} ms of the command's death`,
    )
  },
)

// A soak of long lock waits (creates held up to their 15 s wait behind a prune of
// 20,000 users, ten times): `npm run test:heavy` only.
it.runIf(HEAVY)(
  'a create during a long prune --mode delete either lands whole (exit 0) or exits 75 having written nothing',
  {timeout: 3_600_000},
  async () => {
    const users = 20_000
    const runs = 10
    const creators = 3
    const base = mkdtempSync(path.join(os.tmpdir(), 'om-rel-steal-'))
    try {
      // One seeded directory (set-based SQL), copied for every run.
      const template = path.join(base, 'template')
      const seeded = await openDir(template)
      try {
        await seeded.db.execute(sql`
          insert into users (id, user_id, name, created_at, updated_at, last_active)
          select gen_random_uuid(), 'old' || g, 'Old ' || g, now() - interval '400 days',
                 now() - interval '400 days', now() - interval '400 days'
          from generate_series(1, ${users}) g`)
        await seeded.db.execute(sql`
          insert into api_keys (id, user_id, key_hash, created_at, is_active)
          select gen_random_uuid(), id, md5(id::text) || md5(user_id), created_at, true from users`)
        await seeded.db.execute(sql`
          insert into apps (id, owner_id, name, is_active, created_at, updated_at)
          select gen_random_uuid(), id, 'default', true, created_at, created_at from users`)
        await seeded.db.execute(sql`
          insert into memories (id, user_id, app_id, content, state, created_at)
          select gen_random_uuid(), owner_id, id, 'm', 'active', created_at from apps`)
      } finally {
        await seeded.close()
      }
      const tally = {served: 0, busy: 0}
      for (let run = 0; run < runs; run++) {
        const dataDir = path.join(base, `run${run}`)
        cpSync(template, dataDir, {recursive: true})
        const runEnv = {...env, OPENMEMORY_DATA_DIR: dataDir}
        const prune = runCli(['prune-inactive', '--days', '90', '--mode', 'delete', '--yes', '--json'], {
          env: runEnv,
          timeoutMs: 1_200_000,
        })
        let pruneExited = false
        void prune.finally(() => {
          pruneExited = true
        })
        await heldByAnother(dataDir, () => pruneExited)
        const ids = Array.from({length: creators}, (_, i) => `steal${run}_${i}`)
        const creates = await Promise.all(
          ids.map((id) => runCli(['users', 'create', id, '--json'], {env: runEnv})),
        )
        const pruned = await prune
        expect(pruned.exitCode, pruned.stderr).toBe(0)
        const check = await openDir(dataDir)
        try {
          const present = new Set(
            (
              await rows<{user_id: string}>(
                check.db,
                sql`select user_id from users where user_id like 'steal%'`,
              )
            ).map((r) => r.user_id),
          )
          const audited = new Set(
            (
              await rows<{target_user_id: string}>(
                check.db,
                sql`select target_user_id from openmemory_admin.audit_log where target_user_id like 'steal%'`,
              )
            ).map((r) => r.target_user_id),
          )
          creates.forEach((r, i) => {
            const id = ids[i] as string
            expect([0, 75], r.stderr).toContain(r.exitCode)
            if (r.exitCode === 0) {
              tally.served++
              expect(present.has(id), `${id} exited 0 but is missing`).toBe(true)
              expect(audited.has(id), `${id} exited 0 but has no audit row`).toBe(true)
            } else {
              tally.busy++
              expect(present.has(id), `${id} exited 75 but was written`).toBe(false)
              expect(keysIn(r.stdout)).toEqual([])
            }
          })
          // The prune's own work is whole too, and nothing is left without its user.
          const [counts] = await rows<{old: number; orphanKeys: number; orphanApps: number}>(
            check.db,
            sql`
            select (select count(*) from users where user_id like 'old%')::int as "old",
                   (select count(*) from api_keys k where not exists (select 1 from users u where u.id = k.user_id))::int as "orphanKeys",
                   (select count(*) from apps a where not exists (select 1 from users u where u.id = a.owner_id))::int as "orphanApps"`,
          )
          expect(counts).toEqual({old: 0, orphanKeys: 0, orphanApps: 0})
        } finally {
          await check.close()
        }
        rmSync(dataDir, {recursive: true, force: true})
      }
      console.log(
        `[reliability] embedded: ${runs} run(s) of prune --mode delete on ${users} users with ${creators} concurrent creates: ${tally.served} served, ${tally.busy} exit 75, 0 lost`,
      )
    } finally {
      rmSync(base, {recursive: true, force: true})
    }
  },
)
