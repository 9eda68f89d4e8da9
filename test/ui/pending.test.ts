/**
 * A key directory opened for a run that ends before any key is staged (a
 * failure first, or no key to write) goes again: no empty directory is left
 * to block the rerun (src/ui/pending.ts).
 */
import {existsSync, readdirSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {PendingDir} from '../../src/ui/pending.js'
import {tempDir} from '../helpers/bulk.js'

describe('a key directory nothing was staged in', () => {
  it('is removed when the run aborts', () => {
    const dir = path.join(tempDir(), 'keys')
    const pending = new PendingDir(dir)
    pending.create()
    expect(existsSync(dir)).toBe(true)
    pending.abort()
    expect(existsSync(dir)).toBe(false)
  })

  it('is removed when the run committed no key, and commit() writes nothing', async () => {
    const root = tempDir()
    const dir = path.join(root, 'keys')
    const pending = new PendingDir(dir)
    pending.create()
    await pending.commit()
    expect(readdirSync(dir)).toEqual([])
    pending.abort()
    expect(readdirSync(root)).toEqual([])
  })
})
