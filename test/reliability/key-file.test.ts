/**
 * Keys are never lost, on real PostgreSQL and a real full file system:
 * the key file is written and fsynced before the commit (a deferred trigger
 * checks it at COMMIT time), a full disk rolls the change back and leaves no
 * file, a failing commit removes the file, and Ctrl-C while waiting leaves
 * no empty file behind.
 */
import {execFileSync} from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import postgres from 'postgres'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import KeysRotate from '../../src/commands/keys/rotate.js'
import UsersCreate from '../../src/commands/users/create.js'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'
import {runBin, runCommand} from '../helpers/run.js'

const isRoot = process.getuid?.() === 0

describe('key files (PostgreSQL)', () => {
  let td: TestDatabase
  let sql: postgres.Sql
  let dir: string
  const keyHash = async (userId: string) =>
    (
      await sql`select k.key_hash from api_keys k join users u on u.id = k.user_id where u.user_id = ${userId}`
    )[0]?.key_hash as string
  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser', {migrated: true})
    await (await td.open({migrate: true})).close()
    sql = postgres(td.url!, {max: 1, onnotice: () => {}})
    // Under /tmp itself (not the run's private TMPDIR): the server process (OS user postgres)
    // must be able to reach and stat files here, for the commit-time check. Removed in afterAll.
    dir = mkdtempSync(path.join('/tmp', 'om-keyfile-'))
    chmodSync(dir, 0o755)
    for (const u of ['alice', 'bob', 'carol'])
      expect((await runCommand(UsersCreate, [u, '--json', '--database-url', td.url!])).exitCode).toBe(0)
  })
  afterAll(async () => {
    await sql?.end({timeout: 1})
    await td?.drop()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('the key is complete on disk under its temporary name before the commit, and named only after it (checked by a deferred trigger at COMMIT)', async () => {
    const file = path.join(dir, 'alice.key')
    await sql.unsafe(`
      create function om_check_key_file() returns trigger language plpgsql as $$
      begin
        if (pg_stat_file('${file}', true)).size is not null then
          raise exception 'key file named before the commit';
        end if;
        if coalesce((select max((pg_stat_file('${dir}/' || f, true)).size) from pg_ls_dir('${dir}') f
                     where f like '.alice.key.%.pending'), 0) < 20 then
          raise exception 'key file missing or empty at commit';
        end if;
        return null;
      end $$;
      create constraint trigger om_key_file_at_commit after update on api_keys
        deferrable initially deferred for each row execute function om_check_key_file();`)
    try {
      const before = await keyHash('alice')
      const r = await runCommand<{keyFile: string}>(KeysRotate, [
        'alice',
        '--yes',
        '--json',
        '--key-file',
        file,
        '--database-url',
        td.url!,
      ])
      expect(r.exitCode, r.stdout).toBe(0)
      expect(r.result?.keyFile).toBe(file)
      const key = readFileSync(file, 'utf8').trim()
      expect(key).toMatch(/^mem_lab_[a-z0-9]{32}$/)
      expect(await keyHash('alice')).not.toBe(before)
    } finally {
      await sql.unsafe(`drop trigger om_key_file_at_commit on api_keys; drop function om_check_key_file()`)
    }
  })

  it('a commit that fails removes the key file, and the old key stays', async () => {
    const file = path.join(dir, 'bob.key')
    await sql.unsafe(`
      create function om_refuse() returns trigger language plpgsql as $$
      begin raise exception 'refused at commit'; end $$;
      create constraint trigger om_refuse_at_commit after update on api_keys
        deferrable initially deferred for each row execute function om_refuse();`)
    try {
      const before = await keyHash('bob')
      const r = await runCommand(KeysRotate, ['bob', '--yes', '--key-file', file, '--database-url', td.url!])
      expect(r.exitCode).not.toBe(0)
      expect(existsSync(file)).toBe(false)
      expect(await keyHash('bob')).toBe(before)
    } finally {
      await sql.unsafe(`drop trigger om_refuse_at_commit on api_keys; drop function om_refuse()`)
    }
    expect(readdirSync(dir).filter((f) => f.startsWith('.bob'))).toEqual([])
  })

  it.skipIf(!isRoot)('a full disk: exit 1 naming it, nothing committed, no file left', async () => {
    const mnt = path.join(dir, 'full')
    mkdirSync(mnt)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0711', 'tmpfs', mnt])
    try {
      // Fill it up.
      try {
        writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(1024 * 1024))
      } catch (error) {
        expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC')
      }
      const file = path.join(mnt, 'carol.key')
      const before = await keyHash('carol')
      const r = await runCommand(KeysRotate, [
        'carol',
        '--yes',
        '--json',
        '--key-file',
        file,
        '--database-url',
        td.url!,
      ])
      expect(r.exitCode).toBe(1)
      const {error} = JSON.parse(r.stdout)
      expect(error).toMatchObject({code: 'KEY_FILE'})
      expect(error.message).toMatch(/disk is full.*nothing was changed/)
      expect(existsSync(file)).toBe(false)
      expect(readdirSync(mnt)).toEqual(['filler'])
      expect(await keyHash('carol')).toBe(before)
      const audit = await sql`select count(*)::int as n from openmemory_admin.audit_log
        where target_user_id = 'carol' and details->>'action' = 'rotate'`
      expect(audit[0].n).toBe(0)
    } finally {
      execFileSync('umount', [mnt])
    }
  })

  it('Ctrl-C while waiting for a locked user leaves no key file', async () => {
    const file = path.join(dir, 'alice-interrupted.key')
    const holder = postgres(td.url!, {max: 1, onnotice: () => {}})
    let release!: () => void
    const released = new Promise<void>((r) => {
      release = r
    })
    let held!: () => void
    const isHeld = new Promise<void>((r) => {
      held = r
    })
    const tx = holder
      .begin(async (s) => {
        await s`select 1 from users where user_id = 'alice' for update`
        held()
        await released
      })
      .catch(() => {})
    await isHeld
    try {
      // Ctrl-C once the CLI is blocked on the row lock.
      await runBin(['keys', 'rotate', 'alice', '--yes', '--key-file', file, '--lock-timeout', '120s'], {
        env: {OPENMEMORY_DATABASE_URL: td.url!},
        killSignal: 'SIGINT',
        killWhen: async () => {
          for (;;) {
            const [w] = await sql`select count(*)::int as n from pg_stat_activity
              where application_name = 'openmemory-cli' and wait_event_type = 'Lock'`
            if (w.n > 0) return true
            await new Promise((r) => setTimeout(r, 100))
          }
        },
      })
      expect(existsSync(file)).toBe(false)
      expect(readdirSync(dir).filter((f) => f.includes('alice-interrupted'))).toEqual([])
    } finally {
      release()
      await tx
      await holder.end({timeout: 1})
    }
  })
})
