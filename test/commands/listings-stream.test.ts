/**
 * Streamed listings as users meet them, on both drivers: a terminal gets a
 * page of 100 rows and a line saying how many more there are; --jsonl is one
 * JSON object per line; a reader that goes away early (`| head -n 1`) ends the
 * command quietly with exit 0.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import AuditList from '../../src/commands/audit/list.js'
import KeysList from '../../src/commands/keys/list.js'
import MemoriesCount from '../../src/commands/memories/count.js'
import PruneInactive from '../../src/commands/prune-inactive.js'
import UsersList from '../../src/commands/users/list.js'
import {commandDatabase, createTestDatabase, DRIVERS, type TestDatabase} from '../helpers/databases.js'
import {seedListing} from '../helpers/listing-seed.js'
import {runBin, runCommand} from '../helpers/run.js'

const ROWS = 230

type Cmd = Parameters<typeof runCommand>[0]

/** Run with stdout claiming to be a terminal (captureOutput still collects it). */
async function onTerminal(cmd: Cmd, argv: string[], env: Record<string, string | undefined>) {
  const saved = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY')
  Object.defineProperty(process.stdout, 'isTTY', {value: true, configurable: true})
  try {
    return await runCommand(cmd, argv, {...env, NO_COLOR: '1'})
  } finally {
    if (saved) Object.defineProperty(process.stdout, 'isTTY', saved)
    else delete (process.stdout as {isTTY?: boolean}).isTTY
  }
}

/** Table rows of users (u00001 ...) in terminal output. */
const tableRows = (out: string) => out.split('\n').filter((l) => /^u\d{5} /.test(l))

describe.each(DRIVERS)('streamed listings on %s', (driver) => {
  let td: TestDatabase
  let env: Record<string, string | undefined>
  let argDb: string[]
  beforeAll(async () => {
    ;({td, env, argDb} = await commandDatabase(driver, (d) => seedListing(d, ROWS)))
    env = {...env, OPENMEMORY_FETCH_SIZE: '9'}
  })
  afterAll(async () => td?.drop())

  it('shows a terminal the first 100 users and how many more there are', async () => {
    const r = await onTerminal(UsersList, [...argDb], env)
    expect(r.exitCode).toBe(0)
    const rows = tableRows(r.stdout)
    expect(rows).toHaveLength(100)
    expect(rows[0]).toMatch(/^u00001 /)
    expect(rows[99]).toMatch(/^u00100 /)
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(
      `${ROWS - 100} more; use --limit N or --all to see them.`,
    )
  })

  it('shows every row on a terminal with --all, and exactly --limit rows with --limit', async () => {
    const all = await onTerminal(UsersList, ['--all', ...argDb], env)
    expect(tableRows(all.stdout)).toHaveLength(ROWS)
    expect(all.stdout).not.toContain('more; use')
    const limited = await onTerminal(UsersList, ['--limit', '150', ...argDb], env)
    expect(tableRows(limited.stdout)).toHaveLength(150)
    expect(limited.stdout).not.toContain('more; use')
  })

  it('pages keys, audit records and memory counts (with totals of every row) on a terminal', async () => {
    const keys = await onTerminal(KeysList, [...argDb], env)
    expect(tableRows(keys.stdout)).toHaveLength(100)
    expect(keys.stdout).toContain(`${ROWS - Math.floor(ROWS / 9) - 100} more; use --limit N or --all`)
    const audit = await onTerminal(AuditList, [...argDb], env)
    expect(audit.stdout).toContain(`${ROWS - 100} more; use --limit N or --all`)
    const counts = await onTerminal(MemoriesCount, [...argDb], env)
    expect(tableRows(counts.stdout)).toHaveLength(100)
    const piped = await runCommand(MemoriesCount, [...argDb], env)
    const totalLine = (out: string) =>
      out
        .split('\n')
        .find((l) => /TOTAL/.test(l) && !/USER ID/.test(l))!
        .split(/[\s│]+/)
        .filter(Boolean)
    expect(totalLine(counts.stdout)).toEqual(totalLine(piped.stdout))
    expect(counts.stdout).toContain(`${ROWS - 100} more; use --limit N or --all`)
  })

  it('gives a pipe every row, with no page line', async () => {
    const r = await runCommand(UsersList, [...argDb], env)
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(ROWS + 1)
    expect(r.stdout).not.toContain('more; use')
  })

  it('writes --jsonl as one JSON object per line, the same objects as --json', async () => {
    for (const [cmd, argv] of [
      [UsersList, []],
      [KeysList, []],
      [AuditList, []],
      [MemoriesCount, ['--by-app']],
    ] as [Cmd, string[]][]) {
      const jsonl = await runCommand(cmd, [...argv, '--jsonl', ...argDb], env)
      expect(jsonl.exitCode).toBe(0)
      expect(jsonl.stdout.endsWith('\n')).toBe(true)
      const lines = jsonl.stdout.slice(0, -1).split('\n')
      const parsed = lines.map((l) => JSON.parse(l))
      const json = JSON.parse((await runCommand(cmd, [...argv, '--json', ...argDb], env)).stdout)
      expect(parsed).toEqual(Array.isArray(json) ? json : json.rows)
      expect(parsed.length).toBeGreaterThan(200)
    }
  })

  it('writes the users of a dry run as JSON lines, and refuses --jsonl with --json', async () => {
    const r = await runCommand(PruneInactive, ['--days', '1', '--dry-run', '--jsonl', ...argDb], env)
    expect(r.exitCode).toBe(0)
    const users = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(users.length).toBeGreaterThan(100)
    expect(Object.keys(users[0])).toEqual(['userId', 'lastSeenAt'])
    const both = await runCommand(UsersList, ['--json', '--jsonl', ...argDb], env)
    expect(both.exitCode).toBe(2)
  })
})

/** Output over twice a pipe's buffer (64 KiB) in every format, so the writer meets the closed pipe. */
describe.each(DRIVERS)('a listing whose reader goes away on %s', (driver) => {
  let big: TestDatabase
  beforeAll(async () => {
    big = await createTestDatabase(driver, undefined, {migrated: true})
    const d = await big.open({migrate: true})
    try {
      await seedListing(d, 2000)
    } finally {
      await d.close()
    }
  })
  afterAll(async () => big?.drop())

  it('ends quietly with exit 0 when the reader goes away (| head -n 1)', async () => {
    const env =
      driver === 'postgres'
        ? {OPENMEMORY_DATABASE_URL: undefined, DATABASE_URL: big.url}
        : {OPENMEMORY_DATABASE_URL: undefined, DATABASE_URL: undefined, OPENMEMORY_DATA_DIR: big.dataDir}
    const cases = ['users list', 'users list --format csv', 'users list --json', 'keys list --jsonl']
    for (const args of cases) {
      // The reader takes one line and closes the pipe, as `| head -n 1` does.
      const r = await runBin(args.split(' '), {env: {...env, OPENMEMORY_FETCH_SIZE: '3'}, headLines: 1})
      expect(r.stdout.split('\n').filter(Boolean), args).toHaveLength(1)
      // Exit 0 and nothing on stderr (no EPIPE, no stack trace), compared together so a failure
      // shows what the command said.
      expect({args, exitCode: r.exitCode, signal: r.signal, stderr: r.stderr}).toEqual({
        args,
        exitCode: 0,
        signal: null,
        stderr: '',
      })
    }
  })
})
