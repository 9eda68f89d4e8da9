/**
 * Secret hygiene: every command, run as a separate process with DEBUG=1 and
 * a database URL carrying a password, in success and failure paths. Every
 * stdout, stderr, key file and every row of the tool's own tables is
 * collected: the password never appears, and a plain key appears only in the
 * stdout (or key file) of the command that made it.
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {adminSql, createPgDb, keysIn, type PgTestDb, type ProcResult, runCli, urlFor} from './harness.js'

const PASSWORD = `Hyg-${process.pid}-s3cr3t~pw`

describe('secret hygiene', () => {
  let db: PgTestDb
  let role: string
  let dir: string
  let url: string
  const runs: {label: string; argv: string[]; r: ProcResult; makesKey: boolean}[] = []

  beforeAll(async () => {
    db = await createPgDb('hyg', {migrate: false})
    role = `om_hyg_${process.pid}`
    const admin = adminSql()
    await admin.unsafe(`drop role if exists ${role}`)
    await admin.unsafe(`create role ${role} login password '${PASSWORD}'`)
    await admin.unsafe(`grant connect, create on database ${db.name} to ${role}`)
    await admin.end()
    // The role owns the server's tables, as the server's own database user does.
    await db.sql.unsafe(`grant all on schema public to ${role};
      do $$ declare t text; begin
        for t in select tablename from pg_tables where schemaname = 'public' loop
          execute format('alter table public.%I owner to ${role}', t);
        end loop;
      end $$;
      alter type memorystate owner to ${role}`)
    url = urlFor(db.name, role, encodeURIComponent(PASSWORD))
    expect(url).toContain(encodeURIComponent(PASSWORD))
    dir = mkdtempSync(path.join(os.tmpdir(), 'om-hyg-'))
  })

  afterAll(async () => {
    rmSync(dir, {recursive: true, force: true})
    await db?.drop()
    const admin = adminSql()
    await admin.unsafe(`drop role if exists ${role}`).catch(() => {})
    await admin.end()
  })

  it(
    'the password and the plain keys never leak, in success and failure paths',
    {timeout: 600_000},
    async () => {
      const bad = urlFor('om_hyg_missing_db', role, encodeURIComponent(PASSWORD))
      const keyFile = (n: string) => path.join(dir, `${n}.key`)
      // [label, argv, makes a key?, expected exit code, stdin]
      const plan: [string, string[], boolean, number | number[], string?][] = [
        ['db status (before migrate)', ['db', 'status'], false, 0],
        ['db migrate', ['db', 'migrate'], false, 0],
        ['db migrate again', ['db', 'migrate', '--json'], false, 0],
        ['users create', ['users', 'create', 'hyg_alice', 'Alice', 'alice@example.com'], true, 0],
        ['users create --json', ['users', 'create', 'hyg_bob', '--json'], true, 0],
        ['users create --mcp-config', ['users', 'create', 'hyg_carol', '--mcp-config'], true, 0],
        ['users create --key-file', ['users', 'create', 'hyg_dave', '--key-file', keyFile('dave')], false, 0],
        ['users create existing', ['users', 'create', 'hyg_alice'], false, 4],
        ['users create invalid', ['users', 'create', 'Bad Id'], false, 2],
        ['users list', ['users', 'list'], false, 0],
        ['users list --json', ['users', 'list', '--json'], false, 0],
        ['users list csv', ['users', 'list', '--format', 'csv'], false, 0],
        ['users show', ['users', 'show', 'hyg_alice', '--json'], false, 0],
        ['users show missing', ['users', 'show', 'hyg_nobody'], false, 3],
        ['keys rotate', ['keys', 'rotate', 'hyg_alice', '--yes'], true, 0],
        ['keys rotate --json', ['keys', 'rotate', 'hyg_bob', '--yes', '--json'], true, 0],
        [
          'keys rotate --key-file',
          ['keys', 'rotate', 'hyg_carol', '--yes', '--key-file', keyFile('carol')],
          false,
          0,
        ],
        [
          'keys rotate existing key file',
          ['keys', 'rotate', 'hyg_carol', '--yes', '--key-file', keyFile('carol')],
          false,
          4,
        ],
        ['keys rotate missing', ['keys', 'rotate', 'hyg_nobody', '--yes'], false, 3],
        ['keys list', ['keys', 'list'], false, 0],
        ['keys list --json', ['keys', 'list', '--json'], false, 0],
        ['keys verify unknown key', ['keys', 'verify'], false, 1, 'mem_lab_notarealkeyatall00000000'],
        ['users deactivate', ['users', 'deactivate', 'hyg_bob', '--yes'], false, 0],
        ['users reactivate', ['users', 'reactivate', 'hyg_bob'], false, 0],
        ['keys revoke', ['keys', 'revoke', 'hyg_dave', '--yes'], false, 0],
        ['memories count', ['memories', 'count'], false, 0],
        ['memories count --json', ['memories', 'count', 'hyg_alice', '--by-app', '--json'], false, 0],
        ['audit list', ['audit', 'list'], false, 0],
        ['audit list --json', ['audit', 'list', '--json', '--limit', '500'], false, 0],
        ['db status', ['db', 'status', '--json'], false, 0],
        // Exit 1 when it finds something to report (the revoked key of hyg_dave, for one).
        ['db verify', ['db', 'verify'], false, [0, 1]],
        ['users delete without --yes', ['users', 'delete', 'hyg_dave'], false, 2],
        ['users delete --dry-run', ['users', 'delete', 'hyg_dave', '--dry-run'], false, 0],
        ['users delete', ['users', 'delete', 'hyg_dave', '--yes'], false, 0],
        ['prune-inactive dry run', ['prune-inactive', '--days', '1', '--dry-run'], false, 0],
        ['prune-inactive', ['prune-inactive', '--days', '1', '--mode', 'delete', '--yes'], false, 0],
        [
          'users test, API down',
          ['users', 'test', 'hyg_alice', '--api-url', 'http://127.0.0.1:1', '--timeout', '2'],
          false,
          [1, 5],
          'mem_lab_notarealkeyatall00000000',
        ],
      ]
      for (const [label, argv, makesKey, exit, input] of plan) {
        const r = await runCli(argv, {
          env: {OPENMEMORY_DATABASE_URL: url, DATABASE_URL: undefined, DEBUG: '1'},
          input,
        })
        runs.push({label, argv, r, makesKey})
        expect({label, exit: [exit].flat().includes(r.exitCode ?? -1) ? exit : r.exitCode}).toEqual({
          label,
          exit,
        })
      }
      // A valid key on stdin, with the URL from the environment and from the flag.
      const aliceKey = keysIn(runs.find((x) => x.label === 'keys rotate')?.r.stdout ?? '')[0] ?? ''
      expect(aliceKey).not.toBe('')
      for (const [label, input, exit] of [
        ['keys verify valid key', aliceKey, 0],
        ['keys verify with a server URL flag', aliceKey, 0],
      ] as const) {
        const byFlag = label.includes('flag')
        const r = await runCli(['keys', 'verify', ...(byFlag ? ['--database-url', url] : [])], {
          env: {DEBUG: '1', DATABASE_URL: undefined, OPENMEMORY_DATABASE_URL: byFlag ? undefined : url},
          input,
        })
        runs.push({label, argv: ['keys', 'verify'], r, makesKey: false})
        expect(r.exitCode).toBe(exit)
      }
      // Failure paths against a missing database, password in the URL.
      for (const argv of [
        ['users', 'list'],
        ['db', 'status'],
        ['users', 'create', 'hyg_zed'],
        ['db', 'migrate'],
      ]) {
        const r = await runCli(argv, {
          env: {DATABASE_URL: bad, OPENMEMORY_DATABASE_URL: undefined, DEBUG: '1'},
        })
        runs.push({label: `missing db: ${argv.join(' ')}`, argv, r, makesKey: false})
        expect(r.exitCode).toBe(5)
      }

      // The keys made: printed on the stdout of their own command, or in a key file.
      const made = new Map<string, string>() // key -> label of the run that made it
      for (const run of runs) if (run.makesKey) for (const k of keysIn(run.r.stdout)) made.set(k, run.label)
      const files = ['dave', 'carol'].map((n) => readFileSync(keyFile(n), 'utf8'))
      for (const f of files) for (const k of keysIn(f)) made.set(k, 'key file')
      expect(made.size).toBe(7) // 3 creates + 2 rotations printed, 2 in files
      for (const f of files) expect(f).not.toContain(PASSWORD)

      const ownTables = await db.sql`
      select table_name from information_schema.tables where table_schema = 'openmemory_admin'`
      expect(ownTables.length).toBeGreaterThanOrEqual(2)
      let dump = ''
      for (const {table_name} of ownTables) {
        const rows = await db.sql.unsafe(
          `select row_to_json(t)::text as j from openmemory_admin."${table_name}" t`,
        )
        dump += rows.map((r) => r.j).join('\n')
      }
      const publicDump = (
        await db.sql`select row_to_json(t)::text as j from (select * from users) t
                   union all select row_to_json(t)::text from (select * from api_keys) t
                   union all select row_to_json(t)::text from (select * from apps) t`
      )
        .map((r) => r.j)
        .join('\n')

      const secrets = [PASSWORD, encodeURIComponent(PASSWORD)]
      let scanned = 0
      for (const run of runs) {
        for (const [stream, text] of [
          ['stdout', run.r.stdout],
          ['stderr', run.r.stderr],
        ] as const) {
          scanned++
          for (const s of secrets) expect(text, `${run.label} ${stream} shows the password`).not.toContain(s)
          for (const [key, maker] of made) {
            const allowed = stream === 'stdout' && maker === run.label
            if (!allowed)
              expect(text, `${run.label} ${stream} shows the key made by ${maker}`).not.toContain(key)
          }
        }
      }
      for (const text of [dump, publicDump]) {
        for (const s of secrets) expect(text).not.toContain(s)
        for (const key of made.keys()) expect(text).not.toContain(key)
        expect(keysIn(text)).toEqual([])
      }
      console.log(
        `[reliability] secret hygiene: ${runs.length} runs, ${scanned} outputs, ${made.size} keys, ${ownTables.length} own tables scanned`,
      )
    },
  )
})
