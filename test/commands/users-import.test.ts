import {execFileSync} from 'node:child_process'
import {existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {sql} from 'drizzle-orm'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import UsersImport, {type UsersImportResult} from '../../src/commands/users/import.js'
import UsersList from '../../src/commands/users/list.js'
import type {Database} from '../../src/db/client.js'
import {rows} from '../../src/db/sql.js'
import {defaultContext} from '../../src/services/context.js'
import {deleteUser} from '../../src/services/lifecycle.js'
import {createUser} from '../../src/services/users.js'
import {ageDecryptKeys, ageIdentity, readKeysCsv, runOn, teamCsv, tempDir} from '../helpers/bulk.js'
import {createTestDatabase, DRIVERS, resetTables, type TestDatabase} from '../helpers/databases.js'
import {count, serverAuthenticates} from '../helpers/server-rule.js'

describe.each(DRIVERS)('users import on %s', (driver) => {
  let td: TestDatabase
  let tmp: string
  beforeAll(async () => {
    td = await createTestDatabase(driver, undefined, {migrated: true})
    const d = await td.open({migrate: true})
    await d.close()
  })
  afterAll(async () => {
    await td?.drop()
  })
  beforeEach(async () => {
    tmp = tempDir()
    await withDb(resetTables)
    return () => rmSync(tmp, {recursive: true, force: true})
  })
  async function withDb<T>(fn: (d: Database) => Promise<T>): Promise<T> {
    const d = await td.open()
    try {
      return await fn(d)
    } finally {
      await d.close()
    }
  }
  const csvFile = (text: string) => {
    const file = path.join(tmp, 'team.csv')
    writeFileSync(file, text)
    return file
  }
  const authenticatesAll = (keys: {userId: string; apiKey: string}[]) =>
    withDb(async (d) => {
      const wrong: string[] = []
      for (const k of keys) if ((await serverAuthenticates(d, k.apiKey)) !== k.userId) wrong.push(k.userId)
      return wrong
    })

  it('names the one bad row among 1,000 by its line and writes nothing', async () => {
    // Row 500 is on line 501 (the header is line 1).
    const file = csvFile(
      teamCsv(1000, 'member', (i, row) =>
        i === 500 ? [row[0], row[1], 'not-an-email', row[3], row[4]] : row,
      ),
    )
    const keyDir = path.join(tmp, 'keys')
    const r = await runOn(td, UsersImport, [file, '--key-dir', keyDir])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('1 problem in')
    expect(r.stderr).toContain('line 501: invalid email "not-an-email"')
    expect(r.stderr.match(/line \d+:/g)).toHaveLength(1)
    // A list is printed as lines, not as one line with escaped line breaks.
    expect(r.stderr).not.toContain('\\n')
    expect(r.stderr.split('\n').some((l) => l.startsWith('  line 501: invalid email'))).toBe(true)
    expect(existsSync(keyDir)).toBe(false)
    expect(await withDb((d) => count(d, 'users'))).toBe(0)
    expect(await withDb((d) => count(d, 'openmemory_admin.audit_log'))).toBe(0)
  })

  it('refuses a userId this tool deleted before, as users create does (exit 4), unless --reuse-deleted-id', async () => {
    await withDb(async (d) => {
      await createUser(d.db, {userId: 'gone'}, defaultContext('test'))
      await deleteUser(d.db, 'gone', {}, defaultContext('test'))
    })
    const file = csvFile('userId,name,email\nfresh,Fresh,\ngone,Gone Again,\n')
    const keyDir = path.join(tmp, 'keys')
    const refused = await runOn(td, UsersImport, [file, '--key-dir', keyDir])
    expect(refused.exitCode).toBe(4)
    expect(refused.stderr).toContain('line 3: gone (deleted ')
    expect(refused.stderr).toContain('--reuse-deleted-id')
    expect(existsSync(keyDir)).toBe(false)
    expect(await withDb((d) => count(d, 'users'))).toBe(0)
    // A dry run says the same: it refuses what the real run would.
    expect((await runOn(td, UsersImport, [file, '--dry-run'])).exitCode).toBe(4)

    const r = await runOn<UsersImportResult>(td, UsersImport, [
      file,
      '--key-dir',
      keyDir,
      '--reuse-deleted-id',
      '--json',
    ])
    expect(r.exitCode).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({createdCount: 2, reusedUserIds: ['gone']})
    // Under --json the warning is a JSON line on stderr.
    const warnings = r.stderr
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as {level: string; message: string})
      .filter((l) => l.level === 'warn')
    expect(warnings).toHaveLength(1)
    expect(warnings[0].message).toContain('gone')
    expect(await withDb((d) => count(d, 'users'))).toBe(2)
  })

  it('imports its own CSV export back exactly: formula-guarded names and emails lose exactly their guard', async () => {
    const names = ['=HYPERLINK("http://x")', '-2+3', "'quoted", '@sum', 'Plain Name']
    await withDb(async (d) => {
      for (const [i, name] of names.entries()) {
        await createUser(d.db, {userId: `rt${i}`, name, email: `+rt${i}@example.com`}, defaultContext('test'))
      }
    })
    const exported = await runOn(td, UsersList, ['--format', 'csv'])
    expect(exported.exitCode).toBe(0)
    expect(exported.stdout).toContain("'=HYPERLINK")
    await withDb(resetTables)
    const r = await runOn(td, UsersImport, [csvFile(exported.stdout), '--keys-out', path.join(tmp, 'k.csv')])
    expect(r.exitCode, r.stderr).toBe(0)
    const back = await withDb((d) =>
      rows<{user_id: string; name: string; email: string}>(
        d.db,
        sql`select user_id, name, email from users order by user_id`,
      ),
    )
    expect(back.map((u) => u.name)).toEqual(names)
    expect(back.map((u) => u.email)).toEqual(names.map((_, i) => `+rt${i}@example.com`))
  })

  it("--skip-existing skips the server's own ids by their exact string, without the new-id rules (the README's export pipe)", async () => {
    await withDb(async (d) => {
      // Ids the server made: outside this tool's rules for a new userId.
      for (const id of ['Bob.Smith', 'john doe']) {
        await d.db.execute(
          sql`insert into users (id, user_id, name, created_at, updated_at) values (gen_random_uuid(), ${id}, ${id}, now(), now())`,
        )
      }
      await createUser(d.db, {userId: 'carla'}, defaultContext('test'))
    })
    const exported = await runOn(td, UsersList, ['--format', 'csv'])
    const withNew = `${exported.stdout}newbie,Newbie,,,,,,,,\n`
    const r = await runOn<UsersImportResult>(td, UsersImport, [
      csvFile(withNew),
      '--skip-existing',
      '--keys-out',
      path.join(tmp, 'new.csv'),
      '--json',
    ])
    expect(r.exitCode, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as UsersImportResult
    expect(out.skippedUserIds.sort()).toEqual(['Bob.Smith', 'carla', 'john doe'])
    expect(out.createdUserIds).toEqual(['newbie'])
    // Without --skip-existing the same rows are conflicts, each named by line.
    const refused = await runOn(td, UsersImport, [
      csvFile(exported.stdout),
      '--keys-out',
      path.join(tmp, 'x.csv'),
    ])
    expect(refused.exitCode).toBe(2)
    expect(refused.stderr).toContain('invalid userId "Bob.Smith"')
  })

  it('imports 1,000 users in one run whose keys all authenticate under the server rule', async () => {
    const file = csvFile(teamCsv(1000))
    const out = path.join(tmp, 'keys.csv')
    const r = await runOn<UsersImportResult>(td, UsersImport, [file, '--keys-out', out, '--json'])
    expect(r.exitCode).toBe(0)
    const summary = JSON.parse(r.stdout) as UsersImportResult
    expect(summary).toMatchObject({
      createdCount: 1000,
      skippedCount: 0,
      dryRun: false,
      destination: {kind: 'keys-out', path: out},
    })
    expect(typeof summary.durationMs).toBe('number')
    expect(r.stdout + r.stderr).not.toMatch(/mem_lab_/)
    expect(statSync(out).mode & 0o777).toBe(0o600)
    const keys = readKeysCsv(out)
    expect(keys).toHaveLength(1000)
    expect(new Set(keys.map((k) => k.apiKey)).size).toBe(1000)
    expect(await authenticatesAll(keys)).toEqual([])
    await withDb(async (d) => {
      expect(await count(d, 'users')).toBe(1000)
      // Every user has its default app and one audit row naming it.
      const [apps] = await rows<{n: number}>(
        d.db,
        sql`select count(distinct owner_id)::int as n from apps where name = 'default' and is_active`,
      )
      expect(apps.n).toBe(1000)
      const [audit] = await rows<{n: number; users: number}>(
        d.db,
        sql`
        select count(*)::int as n, count(distinct target_user_id)::int as users
        from openmemory_admin.audit_log where command = 'users import' and outcome = 'created'`,
      )
      expect(audit).toEqual({n: 1000, users: 1000})
      const leaked = await rows(
        d.db,
        sql`select 1 from openmemory_admin.audit_log where details::text like '%mem_lab_%'`,
      )
      expect(leaked).toHaveLength(0)
    })
  })

  it('seals the keys for an age recipient; the real age tool decrypts them and they authenticate', async () => {
    const {identityFile, recipient} = ageIdentity(tmp)
    const file = csvFile(teamCsv(40, 'sealed'))
    const out = path.join(tmp, 'team-keys.age')
    const r = await runOn(td, UsersImport, [file, '--seal-to', recipient, '--out', out])
    expect(r.exitCode).toBe(0)
    expect(r.stdout + r.stderr).not.toMatch(/mem_lab_/)
    expect(r.stderr).toContain(`age -d -i key.txt ${out}`)
    expect(statSync(out).mode & 0o777).toBe(0o600)
    expect(readFileSync(out).toString('latin1')).not.toMatch(/mem_lab_/)
    const keys = ageDecryptKeys(identityFile, out)
    expect(keys.map((k) => k.userId).sort()).toEqual(
      Array.from({length: 40}, (_, i) => `sealed${i + 1}`).sort(),
    )
    expect(await authenticatesAll(keys)).toEqual([])
    // No plain key file was left anywhere in the working directory.
    expect(readdirSync(tmp).sort()).toEqual(['key.txt', 'team-keys.age', 'team.csv'])
  })

  it('seals for every recipient of a recipients file, an ssh-ed25519 key among them; age opens it with either', async () => {
    const {identityFile, recipient} = ageIdentity(tmp)
    const sshKey = path.join(tmp, 'id_ed25519')
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ops@example.com', '-f', sshKey])
    const recipients = path.join(tmp, 'operators.txt')
    writeFileSync(recipients, `# operators\n${recipient}\n${readFileSync(`${sshKey}.pub`, 'utf8')}`)
    const out = path.join(tmp, 'team-keys.age')
    const r = await runOn(td, UsersImport, [
      csvFile(teamCsv(3, 'ssh')),
      '--seal-to',
      recipients,
      '--out',
      out,
    ])
    expect(r.exitCode).toBe(0)
    const withAge = ageDecryptKeys(identityFile, out)
    const withSsh = ageDecryptKeys(sshKey, out)
    expect(withSsh).toEqual(withAge)
    expect(withSsh.map((k) => k.userId)).toEqual(['ssh1', 'ssh2', 'ssh3'])
    expect(await authenticatesAll(withSsh)).toEqual([])
    const bad = await runOn(td, UsersImport, [
      csvFile(teamCsv(1, 'bad')),
      '--seal-to',
      'age1nope',
      '--out',
      path.join(tmp, 'x.age'),
    ])
    expect(bad.exitCode).toBe(2)
    expect(existsSync(path.join(tmp, 'x.age'))).toBe(false)
  })

  it('writes a new 0700 key directory of 0600 files, with MCP configs beside them', async () => {
    const file = csvFile(teamCsv(3, 'dir'))
    const keyDir = path.join(tmp, 'team-keys')
    const r = await runOn(td, UsersImport, [
      file,
      '--key-dir',
      keyDir,
      '--mcp-config',
      '--api-url',
      'https://m.example.com',
    ])
    expect(r.exitCode).toBe(0)
    expect(statSync(keyDir).mode & 0o777).toBe(0o700)
    expect(readdirSync(keyDir).sort()).toEqual(
      [
        'dir1.key',
        'dir1.mcp.json',
        'dir2.key',
        'dir2.mcp.json',
        'dir3.key',
        'dir3.mcp.json',
        'manifest.csv',
      ].sort(),
    )
    const keys = [1, 2, 3].map((i) => {
      const keyFile = path.join(keyDir, `dir${i}.key`)
      expect(statSync(keyFile).mode & 0o777).toBe(0o600)
      expect(statSync(path.join(keyDir, `dir${i}.mcp.json`)).mode & 0o777).toBe(0o600)
      const apiKey = readFileSync(keyFile, 'utf8').trim()
      const mcp = readFileSync(path.join(keyDir, `dir${i}.mcp.json`), 'utf8')
      expect(mcp).toContain(apiKey)
      expect(mcp).toContain('https://m.example.com/mcp/claude/sse')
      return {userId: `dir${i}`, apiKey}
    })
    expect(await authenticatesAll(keys)).toEqual([])
    // An existing directory is refused, and nothing is written.
    const again = await runOn(td, UsersImport, [csvFile(teamCsv(2, 'other')), '--key-dir', keyDir])
    expect(again.exitCode, again.stderr).toBe(4)
    expect(again.stderr).toContain('already exists')
    expect(await withDb((d) => count(d, 'users'))).toBe(3)
  })

  it('names duplicates in the file and conflicts with the database (email case-insensitively)', async () => {
    const seed = await runOn(td, UsersImport, [
      csvFile(teamCsv(2, 'old')),
      '--keys-out',
      path.join(tmp, 'a.csv'),
    ])
    expect(seed.exitCode).toBe(0)
    const file = csvFile(
      [
        'userId,name,email',
        'fresh1,Fresh One,fresh1@example.com', // line 2: fine
        'old1,Old One,x@example.com', // line 3: userId exists
        'fresh2,Fresh Two,OLD2@Example.com', // line 4: email of old2, other case
        'fresh3,,fresh1@EXAMPLE.com', // line 5: email of line 2
        'fresh1,Again,again@example.com', // line 6: userId of line 2
        'Bad-Id,Bad,bad@example.com', // line 7: userId rule
      ].join('\n'),
    )
    const r = await runOn(td, UsersImport, [file, '--keys-out', path.join(tmp, 'b.csv'), '--json'])
    expect(r.exitCode).toBe(2)
    const err = JSON.parse(r.stdout)
    expect(err.problemCount).toBe(5)
    expect(err.problems.map((p: {line: number}) => p.line)).toEqual([3, 4, 5, 6, 7])
    expect(err.problems[0].message).toContain('old1 already exists')
    expect(err.problems[1].message).toContain('already used by user old2')
    expect(err.problems[2].message).toContain('already on line 2')
    expect(err.problems[3].message).toContain('already on line 2')
    expect(existsSync(path.join(tmp, 'b.csv'))).toBe(false)
    expect(await withDb((d) => count(d, 'users'))).toBe(2)

    // --skip-existing leaves old1 and old2 alone and creates the rest.
    const ok = csvFile(
      ['userId,name,email', 'old1,X,old1@example.com', 'old2,,', 'fresh9,Fresh,f9@example.com'].join('\n'),
    )
    const s = await runOn<UsersImportResult>(td, UsersImport, [
      ok,
      '--skip-existing',
      '--keys-out',
      path.join(tmp, 'c.csv'),
      '--json',
    ])
    expect(s.exitCode).toBe(0)
    expect(JSON.parse(s.stdout)).toMatchObject({
      createdCount: 1,
      skippedCount: 2,
      skippedUserIds: ['old1', 'old2'],
      createdUserIds: ['fresh9'],
    })
    expect(readKeysCsv(path.join(tmp, 'c.csv')).map((k) => k.userId)).toEqual(['fresh9'])
  })

  it('shows the first 20 problems and counts the rest', async () => {
    const file = csvFile(teamCsv(30, 'm', (_, row) => [row[0].toUpperCase(), ...row.slice(1)]))
    const r = await runOn(td, UsersImport, [file, '--keys-out', path.join(tmp, 'k.csv')])
    expect(r.exitCode).toBe(2)
    expect(r.stderr.match(/ {2}line \d+:/g)).toHaveLength(20)
    expect(r.stderr).toContain('... and 10 more.')
    expect(r.stderr).toContain('30 problems')
  })

  it('refuses to run without a key destination when there is no terminal, and --dry-run writes nothing', async () => {
    const file = csvFile(teamCsv(5))
    const r = await runOn(td, UsersImport, [file])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('--key-dir')
    const dry = await runOn<UsersImportResult>(td, UsersImport, [file, '--dry-run', '--json'])
    expect(dry.exitCode).toBe(0)
    expect(JSON.parse(dry.stdout)).toMatchObject({
      dryRun: true,
      createdCount: 0,
      createdUserIds: ['member1', 'member2', 'member3', 'member4', 'member5'],
    })
    expect(await withDb((d) => count(d, 'users'))).toBe(0)
  })

  it('refuses a CSV without the required columns', async () => {
    const r = await runOn(td, UsersImport, [
      csvFile('userId,name\nabc,Abc\n'),
      '--keys-out',
      path.join(tmp, 'k.csv'),
    ])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('lacks email')
    expect(existsSync(path.join(tmp, 'k.csv'))).toBe(false)
  })

  it('removes the key files when the commit fails', async () => {
    // A deferred constraint trigger fails at COMMIT, after the keys were written.
    await withDb(async (d) => {
      await d.db.execute(sql`create function om_test_refuse() returns trigger language plpgsql as $$
        begin raise exception 'refused at commit' using errcode = 'P0001'; end $$`)
      await d.db.execute(sql`create constraint trigger om_test_refuse after insert on users
        deferrable initially deferred for each row execute function om_test_refuse()`)
    })
    try {
      const keyDir = path.join(tmp, 'keys')
      const sealed = path.join(tmp, 'keys.csv')
      for (const dest of [
        ['--key-dir', keyDir],
        ['--keys-out', sealed],
      ]) {
        const r = await runOn(td, UsersImport, [csvFile(teamCsv(3)), ...dest])
        expect(r.exitCode).toBe(1)
        expect(existsSync(dest[1])).toBe(false)
      }
      expect(await withDb((d) => count(d, 'users'))).toBe(0)
    } finally {
      await withDb(async (d) => {
        await d.db.execute(sql`drop trigger if exists om_test_refuse on users`)
        await d.db.execute(sql`drop function if exists om_test_refuse()`)
      })
    }
  })
})
