/**
 * The cron guide's monthly rotation line (docs/cron.md), run as cron runs it: `sh -c` with an
 * empty environment (`env -i`, a PATH and a HOME), the env file holding a
 * plain `DATABASE_URL=…` line as systemd's EnvironmentFile does. The paths in
 * the line are swapped for temporary ones; nothing else is changed.
 *
 * - As written (set -a): the file's variable reaches the tool, which rotates
 *   the old key on that database and creates no embedded database in HOME.
 * - The same line without `set -a` (as the guide had it): the tool sees no
 *   database variable and, with no terminal, exits 5 naming the variables,
 *   and leaves nothing in HOME.
 */
import {execFileSync, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {BIN} from '../helpers/run.js'
import {seedUsersBulk} from '../helpers/seed.js'

const GUIDE = readFileSync(path.resolve(import.meta.dirname, '../../docs/cron.md'), 'utf8')

/** The command part of the guide's `0 4 1 * *` line (after the user field), cron's `\%` unescaped. */
function cronCommand(): string {
  const line = GUIDE.split('\n').find((l) => l.startsWith('0 4 1 * * '))
  if (!line) throw new Error('docs/cron.md has no monthly rotation cron line')
  const [, user, command] = /^0 4 1 \* \* (\S+) (.*)$/.exec(line) ?? []
  expect(user).toBe('openmemory')
  return (command as string).replaceAll('\\%', '%')
}

describe('the cron guide rotation line under env -i', () => {
  let td: TestDatabase
  let dir = ''
  let home = ''
  let run: (command: string) => {status: number | null; log: string}
  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    const d = await td.open()
    await seedUsersBulk(d, {prefix: 'cronold', count: 1, daysAgo: 200, now: new Date()})
    await d.close()
    dir = mkdtempSync(path.join(os.tmpdir(), 'om-cron-'))
    const bin = path.join(dir, 'bin')
    mkdirSync(bin)
    const tool = path.join(bin, 'openmemory')
    writeFileSync(tool, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`, {
      mode: 0o755,
    })
    const env = path.join(dir, 'env')
    writeFileSync(env, `DATABASE_URL=${td.url}\n`)
    const identity = path.join(dir, 'key.txt')
    execFileSync('age-keygen', ['-o', identity], {stdio: 'pipe'})
    const pub = path.join(dir, 'operator.age.pub')
    writeFileSync(pub, `${execFileSync('age-keygen', ['-y', identity], {encoding: 'utf8'}).trim()}\n`)
    const log = path.join(dir, 'rotate.log')
    const swap = (command: string) =>
      command
        .replaceAll('/etc/openmemory/env', env)
        .replaceAll('/usr/local/bin/openmemory', tool)
        .replaceAll('/etc/openmemory/operator.age.pub', pub)
        .replaceAll('/var/lib/openmemory/', `${path.join(dir, 'var')}/`)
        .replaceAll('/var/log/openmemory-rotate.log', log)
    run = (command) => {
      rmSync(log, {force: true})
      // Each run writes this month's rotated-<date>.age afresh.
      rmSync(path.join(dir, 'var'), {recursive: true, force: true})
      mkdirSync(path.join(dir, 'var'))
      home = mkdtempSync(path.join(dir, 'home-'))
      const r = spawnSync(
        'env',
        ['-i', `PATH=${process.env.PATH}`, `HOME=${home}`, 'sh', '-c', swap(command)],
        {
          stdio: 'ignore',
          timeout: 120_000,
        },
      )
      return {status: r.status, log: existsSync(log) ? readFileSync(log, 'utf8') : ''}
    }
  })
  afterAll(async () => {
    await td?.drop()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('as written, rotates the old key on the database the env file names', () => {
    const command = cronCommand()
    expect(command).toMatch(/^set -a && \. \/etc\/openmemory\/env && set \+a && /)
    const r = run(command)
    expect(r.status, r.log).toBe(0)
    // stdout's JSON document and stderr's JSON lines share the log, as in cron.
    expect(r.log).toMatch(/"rotatedCount": 1\b/)
    expect(existsSync(path.join(home, '.local'))).toBe(false)
  })

  it('without set -a, exits 5 naming the variables and creates nothing', () => {
    const r = run(cronCommand().replace('set -a && . /etc/openmemory/env && set +a', '. /etc/openmemory/env'))
    expect(r.status).toBe(5)
    expect(r.log).toMatch(/OPENMEMORY_DATABASE_URL and DATABASE_URL are unset/)
    expect(r.log).toMatch(/set -a/)
    expect(existsSync(path.join(home, '.local'))).toBe(false)
  })
})
