/**
 * The embedded database (PGlite) is single-process: processes sharing one
 * data directory are serialised (or exit 75), and a process killed while it
 * holds the directory leaves one the next run opens (the stale lock is
 * cleared, 4 s after the last refresh).
 */
import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, expect, it} from 'vitest'
import {HEAVY, keysIn, prng, runCli, seedFromEnv} from './harness.js'

const dir = mkdtempSync(path.join(os.tmpdir(), 'om-rel-pglite-'))
const env = {
  OPENMEMORY_DATA_DIR: path.join(dir, 'pgdata'),
  OPENMEMORY_DATABASE_URL: undefined,
  DATABASE_URL: undefined,
}
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const listUsers = async () => {
  const r = await runCli(['users', 'list', '--json'], {env})
  expect(r.exitCode).toBe(0)
  return (JSON.parse(r.stdout) as {userId: string}[]).map((u) => u.userId)
}

it(
  'concurrent processes on one data directory are serialised or exit 75, never corrupt it',
  {timeout: 600_000},
  async () => {
    await runCli(['db', 'status'], {env}) // create it first
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
      const r = await runCli(['users', 'create', userId], {env, killAfterMs: rng.int(300, 1500)})
      if (r.killed) kills++
      const printed = keysIn(r.stdout)
      // The next run waits out the stale lock (4 s), opens the directory and completes the command.
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
