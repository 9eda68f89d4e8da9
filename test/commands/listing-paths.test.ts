/**
 * The two paths of a listing print the same bytes: the machine formats made
 * by PostgreSQL and streamed with COPY (ui/listing-sql.ts, db/format-sql.ts,
 * ui/copy-listing.ts) and the row path that builds each row in Node
 * (OPENMEMORY_LISTING_PATH=rows). The data is as hostile as text gets: escape
 * sequences, bidi and invisible characters, DEL and C1 controls, line and
 * paragraph separators, astral characters, quotes, backslashes, commas,
 * empty strings and every formula-guard trigger, in userIds, names, emails,
 * app names and audit details. OPENMEMORY_LISTING_PATH=copy fails a listing
 * that would not take COPY, so each case proves the COPY path ran.
 *
 * Also: the formula guard PostgreSQL applies (guardCellSql) agrees with the
 * one in JavaScript (guardCell) on arbitrary strings.
 */
import {spawn} from 'node:child_process'
import {sql} from 'drizzle-orm'
import fc from 'fast-check'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import AuditList from '../../src/commands/audit/list.js'
import KeysList from '../../src/commands/keys/list.js'
import MemoriesCount from '../../src/commands/memories/count.js'
import PruneInactive from '../../src/commands/prune-inactive.js'
import UsersList from '../../src/commands/users/list.js'
import type {Database} from '../../src/db/client.js'
import {textLiteral} from '../../src/db/format-sql.js'
import {rows} from '../../src/db/sql.js'
import {guardCell, guardCellSql} from '../../src/services/csv-guard.js'
import {commandDatabase, createTestDatabase, DRIVERS, type TestDatabase} from '../helpers/databases.js'
import {BIN, runCommand} from '../helpers/run.js'

/** Text that every output has to carry exactly or escape the same way. */
const HOSTILE = [
  'plain',
  '',
  ' ',
  '\u001b[31mred\u001b[0m',
  '\u001b]8;;https://evil.example\u0007link\u001b]8;;\u0007',
  'right\u202eto-left',
  'zero\u200bwidth\ufeff',
  'del\u007f c1\u0085\u009b',
  'line\u2028para\u2029',
  'tag\u{e0041}\u{e007f} vs\ufe0f',
  'emoji 🎉 漢字 ñ',
  'back\\slash "quoted" \'single\'',
  'comma, semi; tab\there',
  'new\nline\r\ncr\r',
  '=SUM(A1)',
  '+1',
  '-2',
  '@cmd',
  "'quoted",
  '\tlead',
  '\rlead',
  '＝full',
  '＋full',
  '－full',
  '＠full',
  '\\.',
  'null',
]

async function seedHostile(database: Database): Promise<void> {
  const run = (q: ReturnType<typeof sql>) => database.db.execute(q)
  for (const [i, text] of HOSTILE.entries()) {
    const n = String(i).padStart(3, '0')
    const t = textLiteral(text)
    await run(sql`insert into users (id, user_id, name, email, created_at, updated_at, last_active)
      values (md5(${`u${n}`})::uuid, ${`u${n}-`} || ${t}, ${i % 5 === 1 ? sql`null` : t},
              ${i % 3 === 0 ? sql`null` : sql`${t} || '@example.com'`},
              timestamp '2025-06-01 10:20:30.456789' - ${i} * interval '3 days',
              timestamp '2025-06-01', ${i % 4 === 0 ? sql`null` : sql`timestamp '2025-07-01 01:02:03.999999'`})`)
    if (i % 6 !== 5) {
      await run(sql`insert into api_keys (id, user_id, key_hash, created_at, last_used, is_active)
        values (md5(${`k${n}`})::uuid, md5(${`u${n}`})::uuid, md5(${`h${n}`}) || md5(${`g${n}`}),
                timestamp '2025-05-01 00:00:00.5' + ${i} * interval '1 hour',
                ${i % 2 === 0 ? sql`null` : sql`timestamp '2025-08-01 12:00:00'`}, ${i % 4 !== 3})`)
    }
    for (const [j, app] of (i % 7 === 6 ? [] : i % 2 === 0 ? ['default'] : ['default', text]).entries()) {
      await run(sql`insert into apps (id, owner_id, name, is_active, created_at, updated_at)
        values (md5(${`a${n}-${j}`})::uuid, md5(${`u${n}`})::uuid, ${textLiteral(app)}, true,
                timestamp '2025-01-01', timestamp '2025-01-01')`)
      await run(sql`insert into memories (id, user_id, app_id, content, state, created_at, updated_at)
        select md5(${`m${n}-${j}-`} || g)::uuid, md5(${`u${n}`})::uuid, md5(${`a${n}-${j}`})::uuid, 'm',
               (array['active', 'archived', 'deleted'])[1 + (g + ${i}) % 3]::memorystate,
               timestamp '2025-02-01', timestamp '2025-02-01'
        from generate_series(1, ${1 + (i % 4)}) g`)
    }
    if (i % 8 === 2) {
      await run(sql`insert into openmemory_admin.deactivations (user_uuid, deactivated_at, reason, key_switched_off, app_ids)
        values (md5(${`u${n}`})::uuid, timestamptz '2025-09-01 00:00:00+00', 'left', true, '{}')`)
    }
    await run(sql`insert into openmemory_admin.audit_log (at, os_user, host, command, target_user_id, outcome, details)
      values (timestamptz '2025-10-01 00:00:00.123456+00' + ${i} * interval '61 seconds', ${t}, 'host', 'users create',
              ${i % 9 === 4 ? sql`null` : sql`${`u${n}-`} || ${t}`}, 'created',
              ${i % 5 === 3 ? sql`'null'::jsonb` : sql`jsonb_build_object('reason', ${t}, '10', 1, '2', 2.50, 'big', 12345678901234567890, 'list', jsonb_build_array(${t}, null, true))`})`)
  }
  for (const [i, details] of DETAILS.entries()) {
    await run(sql`insert into openmemory_admin.audit_log (at, os_user, host, command, target_user_id, outcome, details)
      values (timestamptz '2025-11-01 00:00:00+00' + ${i} * interval '1 minute', 'ops', 'host', 'keys rotate',
              'u001', 'changed', ${textLiteral(details)}::jsonb)`)
  }
}

/** Audit details in ASCII that the COPY path compacts itself, and some that it must leave to JSON.parse. */
const DETAILS = [
  '{}',
  '[]',
  '{"a b": "x\\"y", "k\\\\": [1, -2, 0, true, false, null, {}, []], "01": {"n": -15}, "-1": "z"}',
  '{"deep": {"deeper": [[{"x": "\\u0001\\t"}]]}, "n": 123456789012345}',
  '{"e": 1e3}',
  '{"f": 2.50}',
  '{"g": 1234567890123456}',
  '{"h": -0}',
  '{"7": 1, "b": 2}',
  '"just a string"',
  '42',
  'null',
  '{"ü": "ñ"}',
]

type Cmd = Parameters<typeof runCommand>[0]
const CASES: [string, Cmd, string[]][] = [
  ['users list', UsersList, []],
  ['users list --sort created --limit 9', UsersList, ['--sort', 'created', '--limit', '9']],
  ['users list --sort memories', UsersList, ['--sort', 'memories']],
  ['users list --json', UsersList, ['--json']],
  ['users list --jsonl', UsersList, ['--jsonl']],
  ['users list --format csv', UsersList, ['--format', 'csv']],
  ['users list --format csv --csv-raw', UsersList, ['--format', 'csv', '--csv-raw']],
  ['users list --inactive-days 30 --json', UsersList, ['--inactive-days', '30', '--json']],
  ['keys list', KeysList, []],
  ['keys list --json', KeysList, ['--json']],
  ['keys list --jsonl --older-than 1d', KeysList, ['--jsonl', '--older-than', '1d']],
  ['audit list', AuditList, []],
  ['audit list --limit 5', AuditList, ['--limit', '5']],
  ['memories count', MemoriesCount, []],
  ['memories count --by-app', MemoriesCount, ['--by-app']],
  ['memories count --by-app --limit 4', MemoriesCount, ['--by-app', '--limit', '4']],
  ['prune-inactive --dry-run', PruneInactive, ['--days', '1', '--dry-run']],
  ['prune-inactive --dry-run --json', PruneInactive, ['--days', '1', '--dry-run', '--json']],
  ['prune-inactive --dry-run --jsonl', PruneInactive, ['--days', '1', '--dry-run', '--jsonl']],
]

/** What depends on the clock (a run's own times) is masked. */
function stable(out: string): string {
  return out
    .replace(/"(startedAt|cutoffAt)": "[^"]+"/g, '"$1": "-"')
    .replace(/"durationMs": \d+/g, '"durationMs": 0')
}

describe.each(DRIVERS)('COPY and row paths on %s', (driver) => {
  let td: TestDatabase
  let env: Record<string, string | undefined>
  let argDb: string[]
  beforeAll(async () => {
    ;({td, env, argDb} = await commandDatabase(driver, seedHostile))
  }, 120_000)
  afterAll(async () => td?.drop())

  it.each(CASES)('%s: the same bytes', async (_name, cmd, argv) => {
    const copy = await runCommand(cmd, [...argv, ...argDb], {...env, OPENMEMORY_LISTING_PATH: 'copy'})
    expect(copy.stderr).not.toMatch(/Error|COPY/)
    expect(copy.exitCode).toBe(0)
    const byRows = await runCommand(cmd, [...argv, ...argDb], {...env, OPENMEMORY_LISTING_PATH: 'rows'})
    expect(byRows.exitCode).toBe(0)
    expect(copy.stdout.length).toBeGreaterThan(40)
    expect(stable(copy.stdout)).toBe(stable(byRows.stdout))
  })

  it('the output carries the hostile text escaped, never raw', async () => {
    const out = await runCommand(UsersList, argDb, {...env, OPENMEMORY_LISTING_PATH: 'copy'})
    expect(out.stdout).toContain('\\x1b[31mred')
    expect(out.stdout).toContain('right\\u202eto-left')
    const raw = (text: string, chars: string[]) => chars.filter((c) => text.includes(c))
    expect(raw(out.stdout, ['\u001b', '\u202e', '\u200b', '\u007f', '\u0085'])).toEqual([])
    const json = await runCommand(UsersList, ['--json', ...argDb], {...env, OPENMEMORY_LISTING_PATH: 'copy'})
    expect(raw(json.stdout, ['\u001b', '\u202e', '\u200b', '\u007f', '\u0085', '\u2028'])).toEqual([])
    const names = (JSON.parse(json.stdout) as {name: string | null}[]).map((u) => u.name)
    for (const [i, text] of HOSTILE.entries()) if (i % 5 !== 1) expect(names).toContain(text)
  })
})

describe('the formula guard in SQL and in JavaScript', () => {
  let td: TestDatabase
  beforeAll(async () => {
    td = await createTestDatabase('postgres')
  })
  afterAll(async () => td?.drop())

  it('agree on arbitrary strings (and on every trigger)', async () => {
    const d = await td.open()
    try {
      const special = ['=', '+', '-', '@', '\t', '\r', "'", '＝', '＋', '－', '＠', '\\', '"', 'a', '\n', ' ']
      const samples = fc.sample(
        fc.oneof(
          fc.string({unit: 'grapheme', maxLength: 12}),
          fc.string({unit: fc.constantFrom(...special), maxLength: 4}),
          fc.string({unit: 'binary', maxLength: 8}),
        ),
        {numRuns: 600, seed: 20261204},
      )
      const inputs = [
        ...new Set([
          ...special,
          ...samples.filter((s) => !s.includes('\u0000') && !/\p{Surrogate}/u.test(s)),
        ]),
      ]
      const select = sql.join(
        inputs.map((s, i) => sql`select ${i} as i, ${guardCellSql(textLiteral(s))} as g`),
        sql` union all `,
      )
      const got = await rows<{i: number; g: string}>(d.db, select)
      expect(got).toHaveLength(inputs.length)
      for (const r of got) expect([inputs[r.i], r.g]).toEqual([inputs[r.i], guardCell(inputs[r.i] as string)])
    } finally {
      await d.close()
    }
  })
})

describe('a reader slower than the database', () => {
  const USERS = 60_000
  let td: TestDatabase
  beforeAll(async () => {
    td = await createTestDatabase('postgres', undefined, {migrated: true})
    const d = await td.open()
    try {
      await d.db.execute(sql`insert into users (id, user_id, name, created_at, updated_at)
        select gen_random_uuid(), 'idle' || lpad(g::text, 6, '0'), 'Idle ' || g,
               timestamp '2025-01-01', timestamp '2025-01-01'
        from generate_series(1, ${USERS}) g`)
    } finally {
      await d.close()
    }
  }, 120_000)
  afterAll(async () => td?.drop())

  // postgres.js leaves its socket paused when a COPY ends while its stream is full
  // (db/copy.ts, resumeSocket): prune's next statement, giving back its run lock, then waited
  // forever. A reader that stops for a while makes the stream full at the end.
  it('prune --dry-run ends, its run lock given back, after a COPY read with backpressure', async () => {
    const run = await new Promise<{code: number | null; lines: number; ms: number}>((resolve, reject) => {
      const started = Date.now()
      const child = spawn(process.execPath, [BIN, 'prune-inactive', '--days', '30', '--dry-run'], {
        env: {
          ...process.env,
          OPENMEMORY_DATABASE_URL: td.url,
          DATABASE_URL: '',
          OPENMEMORY_LISTING_PATH: 'copy',
        },
        stdio: ['ignore', 'pipe', 'ignore'],
      })
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
      let out = ''
      let paused = false
      child.stdout.on('data', (d) => {
        out += d
        if (paused) return
        paused = true
        child.stdout.pause()
        setTimeout(() => child.stdout.resume(), 800)
      })
      child.on('error', reject)
      child.on('close', (code) => {
        clearTimeout(timer)
        resolve({code, lines: out.split('\n').filter(Boolean).length, ms: Date.now() - started})
      })
    })
    expect(run).toMatchObject({code: 0, lines: USERS})
    const d = await td.open()
    try {
      expect(await rows(d.db, sql`select name from openmemory_admin.run_locks`)).toEqual([])
    } finally {
      await d.close()
    }
  })
})
