/**
 * Every listing, piped, over more rows than one fetch chunk: the streamed
 * output must be byte-identical to the output of the tool before listings
 * streamed (golden files captured from that code, test/golden/listings/), and
 * the same with a chunk of 7 rows as with one chunk holding everything.
 *
 * UPDATE_GOLDEN=1 rewrites the golden files from the current code (only when
 * an output change is intended).
 */
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import AuditList from '../../src/commands/audit/list.js'
import KeysList from '../../src/commands/keys/list.js'
import MemoriesCount from '../../src/commands/memories/count.js'
import PruneInactive from '../../src/commands/prune-inactive.js'
import UsersList from '../../src/commands/users/list.js'
import {commandDatabase, DRIVERS, type TestDatabase} from '../helpers/databases.js'
import {seedListing} from '../helpers/listing-seed.js'
import {runCommand} from '../helpers/run.js'

const GOLDEN = path.resolve(import.meta.dirname, '../golden/listings')
const ROWS = 230

type Cmd = Parameters<typeof runCommand>[0]
const CASES: [string, Cmd, string[]][] = [
  ['users-list.tsv', UsersList, []],
  ['users-list-created.tsv', UsersList, ['--sort', 'created']],
  ['users-list-last-active.tsv', UsersList, ['--sort', 'last-active']],
  ['users-list-memories.tsv', UsersList, ['--sort', 'memories']],
  ['users-list-limit.tsv', UsersList, ['--limit', '31', '--sort', 'created']],
  ['users-list.csv', UsersList, ['--format', 'csv']],
  ['users-list.json', UsersList, ['--json']],
  ['users-list-ui-profile.json', UsersList, ['--format', 'ui-profile']],
  ['keys-list.tsv', KeysList, []],
  ['keys-list.json', KeysList, ['--json']],
  ['memories-count.tsv', MemoriesCount, []],
  ['memories-count-by-app.tsv', MemoriesCount, ['--by-app']],
  ['memories-count.json', MemoriesCount, ['--json']],
  ['memories-count-by-app.json', MemoriesCount, ['--by-app', '--json']],
  ['memories-count-one.tsv', MemoriesCount, ['u00012', '--by-app']],
  ['audit-list.tsv', AuditList, ['--limit', '500']],
  ['audit-list.json', AuditList, ['--limit', '500', '--json']],
  ['audit-list-user.tsv', AuditList, ['--user', 'u00042']],
  ['prune-dry-run.txt', PruneInactive, ['--days', '1', '--dry-run']],
  ['prune-dry-run.json', PruneInactive, ['--days', '1', '--dry-run', '--json']],
]

/**
 * What depends on the clock is masked: prune's cutoff, and the run's own
 * startedAt and durationMs that every JSON document carries (dropped).
 */
function stable(out: string): string {
  const masked = out.replace(/"cutoffAt": "[^"]+"/g, '"cutoffAt": "-"')
  if (!masked.startsWith('{')) return masked
  const {startedAt: _started, durationMs: _duration, ...rest} = JSON.parse(masked)
  return `${JSON.stringify(rest, null, 2)}\n`
}

describe.each(DRIVERS)('listings over many chunks on %s', (driver) => {
  let td: TestDatabase
  let env: Record<string, string | undefined>
  let argDb: string[]
  beforeAll(async () => {
    ;({td, env, argDb} = await commandDatabase(driver, (d) => seedListing(d, ROWS)))
  })
  afterAll(async () => td?.drop())

  it.each(CASES)('%s: chunked output equals the golden and the one-chunk output', async (name, cmd, argv) => {
    const small = await runCommand(cmd, [...argv, ...argDb], {...env, OPENMEMORY_FETCH_SIZE: '7'})
    expect(small.stderr.includes('Error'), small.stderr).toBe(false)
    expect(small.exitCode).toBe(0)
    if (driver === 'postgres') {
      const whole = await runCommand(cmd, [...argv, ...argDb], {...env, OPENMEMORY_FETCH_SIZE: '1000000'})
      expect(whole.exitCode).toBe(0)
      expect(stable(small.stdout)).toBe(stable(whole.stdout))
    }
    const file = path.join(GOLDEN, name)
    if (process.env.UPDATE_GOLDEN === '1' && driver === 'postgres') {
      mkdirSync(GOLDEN, {recursive: true})
      writeFileSync(file, stable(small.stdout))
    }
    expect(existsSync(file), `${file} missing: UPDATE_GOLDEN=1 writes it`).toBe(true)
    expect(stable(small.stdout)).toBe(readFileSync(file, 'utf8'))
  })
})
