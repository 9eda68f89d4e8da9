/**
 * A lost COMMIT reply never loses a key (issue 22, point 1). A proxy on
 * 127.0.0.1 forwards the COMMIT of the transaction that writes keys to
 * PostgreSQL, then cuts the client before the answer reaches it. The tool
 * must ask the database again: committed, so it keeps the key files and
 * exits 0. When the database cannot be reached to ask, it keeps every file
 * and exits 75 saying the outcome is unknown. (PostgreSQL only: the embedded
 * database has no connection to lose.)
 */
import {existsSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import KeysRotate from '../../src/commands/keys/rotate.js'
import UsersCreate from '../../src/commands/users/create.js'
import UsersImport from '../../src/commands/users/import.js'
import type {Database} from '../../src/db/client.js'
import {defaultContext} from '../../src/services/context.js'
import {createUser} from '../../src/services/users.js'
import {readKeysCsv, tempDir} from '../helpers/bulk.js'
import {createTestDatabase, resetTables, type TestDatabase} from '../helpers/databases.js'
import {runCommand} from '../helpers/run.js'
import {serverAuthenticates} from '../helpers/server-rule.js'

interface CommitCutter {
  url: string
  /** After the cut, refuse every new connection (the database is gone). */
  refuseAfterCut: boolean
  cuts: number
  close(): Promise<void>
}

/**
 * Forwards to PostgreSQL; on a connection that has written api_keys, the
 * next COMMIT is forwarded and the client cut as soon as the server answers
 * it (the answer is dropped).
 */
async function commitCutter(target: URL): Promise<CommitCutter> {
  const sockets = new Set<net.Socket>()
  const state = {cut: false}
  const cutter: CommitCutter = {url: '', refuseAfterCut: false, cuts: 0, close: async () => {}}
  const server = net.createServer((client) => {
    sockets.add(client)
    client.on('error', () => {})
    if (state.cut && cutter.refuseAfterCut) {
      client.destroy()
      return
    }
    const upstream = net.connect(Number(target.port || 5432), target.hostname)
    sockets.add(upstream)
    upstream.on('error', () => client.destroy())
    let wroteKeys = false
    let cutting = false
    client.on('data', (chunk) => {
      const text = chunk.toString('latin1')
      if (/api_keys/i.test(text) && /\b(insert|update)\b/i.test(text)) wroteKeys = true
      if (!state.cut && wroteKeys && /(^|\0)commit\0/i.test(text)) {
        state.cut = true
        cutting = true
        cutter.cuts++
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk) => {
      if (cutting) {
        // The server has committed and answered: the client never hears it.
        client.destroy()
        upstream.destroy()
        return
      }
      client.write(chunk)
    })
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = new URL(target.href)
  url.hostname = '127.0.0.1'
  url.port = String((server.address() as net.AddressInfo).port)
  cutter.url = url.href
  cutter.close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  return cutter
}

describe('a lost COMMIT reply (PostgreSQL behind a proxy that cuts after COMMIT)', () => {
  let td: TestDatabase
  let database: Database
  let tmp: string
  let cutter: CommitCutter
  beforeAll(async () => {
    td = await createTestDatabase('postgres')
    database = await td.open({migrate: true})
  })
  afterAll(async () => {
    await database?.close()
    await td?.drop()
  })
  beforeEach(async () => {
    await resetTables(database)
    tmp = tempDir()
    cutter = await commitCutter(new URL(td.url!))
    return async () => {
      await cutter.close()
      rmSync(tmp, {recursive: true, force: true})
    }
  })
  const run = (cmd: Parameters<typeof runCommand>[0], argv: string[]) =>
    runCommand(cmd, [...argv, '--database-url', cutter.url])
  const keyOf = (file: string) => readFileSync(file, 'utf8').trim()

  it('users create: committed, so the key file stays and the run succeeds', async () => {
    const file = path.join(tmp, 'ana.key')
    const r = await run(UsersCreate, ['ana', '--key-file', file])
    expect(cutter.cuts).toBe(1)
    expect(r.exitCode, r.stderr).toBe(0)
    expect(existsSync(file)).toBe(true)
    expect(await serverAuthenticates(database, keyOf(file))).toBe('ana')
  })

  it('keys rotate <userId>: committed, so the new key file stays and works', async () => {
    await createUser(database.db, {userId: 'bea'}, defaultContext('test'))
    const file = path.join(tmp, 'bea.key')
    const r = await run(KeysRotate, ['bea', '--yes', '--key-file', file])
    expect(cutter.cuts).toBe(1)
    expect(r.exitCode, r.stderr).toBe(0)
    expect(await serverAuthenticates(database, keyOf(file))).toBe('bea')
  })

  it('users import: committed, so every key file stays and works', async () => {
    const csv = path.join(tmp, 'team.csv')
    writeFileSync(csv, 'userId,name,email\ncid,Cid,\ndee,Dee,\n')
    const dir = path.join(tmp, 'keys')
    const r = await run(UsersImport, [csv, '--key-dir', dir])
    expect(cutter.cuts).toBe(1)
    expect(r.exitCode, r.stderr).toBe(0)
    expect(readdirSync(dir).sort()).toEqual(['cid.key', 'dee.key', 'manifest.csv'])
    for (const id of ['cid', 'dee']) {
      expect(await serverAuthenticates(database, keyOf(path.join(dir, `${id}.key`)))).toBe(id)
    }
  })

  it('keys rotate --older-than: committed, so the keys CSV stays and every key works', async () => {
    for (const id of ['eve', 'fay']) await createUser(database.db, {userId: id}, defaultContext('test'))
    const out = path.join(tmp, 'rotated.csv')
    const r = await run(KeysRotate, ['--older-than', '0d', '--yes', '--keys-out', out])
    expect(cutter.cuts).toBe(1)
    expect(r.exitCode, r.stderr).toBe(0)
    const keys = readKeysCsv(out)
    expect(keys.map((k) => k.userId).sort()).toEqual(['eve', 'fay'])
    for (const k of keys) expect(await serverAuthenticates(database, k.apiKey)).toBe(k.userId)
  })

  it('the database cannot be asked again: exit 75, the outcome named unknown, the key kept; the next run names it', async () => {
    cutter.refuseAfterCut = true
    const file = path.join(tmp, 'gil.key')
    const r = await run(UsersCreate, ['gil', '--key-file', file])
    expect(cutter.cuts).toBe(1)
    expect(r.exitCode).toBe(75)
    expect(r.stderr).toContain('is unknown')
    expect(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('Error')),
    ).toHaveLength(1)
    // Kept under its temporary name: no key file yet for a user that may not exist.
    expect(existsSync(file)).toBe(false)
    const kept = readdirSync(tmp).filter((f) => /^\.gil\.key\.[0-9a-f]{16}\.pending$/.test(f))
    expect(kept).toHaveLength(1)
    expect(r.stderr).toContain(kept[0])
    // It was committed: the kept file holds the only working key.
    expect(await serverAuthenticates(database, keyOf(path.join(tmp, kept[0])))).toBe('gil')
    // The database back: the same command settles it (named, since committed), then finds gil taken.
    const again = await runCommand(UsersCreate, ['gil', '--key-file', file, '--database-url', td.url!])
    expect(again.stderr).toMatch(/had committed: its keys are now in .*gil\.key/)
    expect(again.exitCode).toBe(4)
    expect(await serverAuthenticates(database, keyOf(file))).toBe('gil')
    expect(readdirSync(tmp).filter((f) => f.endsWith('.pending'))).toEqual([])
  })

  it('keys rotate --older-than, the database unreachable after COMMIT: the keys CSV kept, named by the next run', async () => {
    cutter.refuseAfterCut = true
    for (const id of ['hal', 'ida']) await createUser(database.db, {userId: id}, defaultContext('test'))
    const out = path.join(tmp, 'rotated.csv')
    const r = await run(KeysRotate, ['--older-than', '0d', '--yes', '--keys-out', out])
    expect(r.exitCode, r.stderr).toBe(75)
    expect(existsSync(out)).toBe(false)
    const again = await runCommand(KeysRotate, ['--older-than', '0d', '--dry-run', '--database-url', td.url!])
    expect(again.exitCode).toBe(0)
    // A dry run settles nothing; a real run (here: nothing older than a day) does.
    expect(existsSync(out)).toBe(false)
    const real = await runCommand(KeysRotate, [
      '--older-than',
      '1d',
      '--yes',
      '--keys-out',
      path.join(tmp, 'x.csv'),
      '--database-url',
      td.url!,
    ])
    expect(real.exitCode, real.stderr).toBe(0)
    expect(real.stderr).toMatch(/had committed/)
    const keys = readKeysCsv(out)
    expect(keys.map((k) => k.userId).sort()).toEqual(['hal', 'ida'])
    for (const k of keys) expect(await serverAuthenticates(database, k.apiKey)).toBe(k.userId)
  })
})
