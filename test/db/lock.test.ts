/**
 * The embedded database's lock: a live holder keeps it however long its event
 * loop is blocked; a holder killed with SIGKILL loses it at once.
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, symlinkSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, expect, it} from 'vitest'
import {lockDataDir, lockName} from '../../src/db/lock.js'
import {BusyError} from '../../src/errors.js'

let dir = ''
let dataDir = ''
const children: ChildProcess[] = []
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'om-lock-'))
  dataDir = path.join(dir, 'pgdata')
})
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
  rmSync(dir, {recursive: true, force: true})
})

/** Start a holder process and resolve once it holds the lock. */
function startHolder(): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, 'fixtures/lock-holder.ts'), dataDir],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  children.push(child)
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d) => {
      if (String(d).includes('locked')) resolve(child)
    })
    child.on('exit', (code) => reject(new Error(`lock holder exited ${code}`)))
  })
}

it('lets one holder in at a time within a process', async () => {
  const release = await lockDataDir(dataDir, 0)
  await expect(lockDataDir(dataDir, 0)).rejects.toBeInstanceOf(BusyError)
  await release()
  const again = await lockDataDir(dataDir, 0)
  await again()
})

it('names the same directory alike by any path, and different directories apart', () => {
  mkdirSync(path.join(dir, 'real'))
  symlinkSync(path.join(dir, 'real'), path.join(dir, 'link'))
  expect(lockName(path.join(dir, 'link', 'pgdata'))).toBe(lockName(path.join(dir, 'real', 'pgdata')))
  expect(lockName(path.join(dir, 'real', 'pgdata'))).not.toBe(lockName(path.join(dir, 'real', 'other')))
})

it('never takes the lock from a live holder whose event loop is blocked, and takes it at once when the holder is killed', async () => {
  const holder = await startHolder()
  // The holder's event loop is blocked: a waiter still gives up (exit 75), however long it waits
  // (nothing is judged by time: ten retries prove it as well as fifty).
  await expect(lockDataDir(dataDir, 1000)).rejects.toBeInstanceOf(BusyError)
  await expect(lockDataDir(dataDir, 0)).rejects.toBeInstanceOf(BusyError)
  const exited = new Promise((r) => holder.once('exit', r))
  holder.kill('SIGKILL')
  await exited
  // Dead: the very first attempt succeeds (no waiting for anything to go stale).
  const release = await lockDataDir(dataDir, 0)
  await release()
})
