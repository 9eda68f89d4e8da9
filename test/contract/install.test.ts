/**
 * The install path docs/install.md gives, as a user takes it: `npm pack`, the
 * tarball installed into a fresh prefix (dependencies from npm's cache, as
 * `npm ci` left it), then `openmemory` run from that PATH with no checkout
 * beside it, an empty HOME and nothing else in the environment: --version,
 * --help, and a `users create` on a new embedded database.
 */
import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {CLI_ROOT} from '../helpers/run.js'

describe('installed from the packed tarball', () => {
  let prefix: string
  let home: string
  const version = JSON.parse(readFileSync(path.join(CLI_ROOT, 'package.json'), 'utf8')).version as string
  const run = (args: string[]) => {
    try {
      const stdout = execFileSync('openmemory', args, {
        cwd: home,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 180_000,
        env: {PATH: `${path.join(prefix, 'bin')}:/usr/local/bin:/usr/bin:/bin`, HOME: home},
      })
      return {code: 0, stdout}
    } catch (error) {
      const e = error as {status: number; stdout: string; stderr: string}
      return {code: e.status, stdout: `${e.stdout}${e.stderr}`}
    }
  }

  beforeAll(() => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'om-install-'))
    prefix = path.join(root, 'prefix')
    home = path.join(root, 'home')
    mkdirSync(home)
    const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', root], {
      cwd: CLI_ROOT,
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .pop() as string
    execFileSync(
      'npm',
      [
        'install',
        '--global',
        '--prefix',
        prefix,
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        path.join(root, packed),
      ],
      {stdio: 'pipe', timeout: 600_000},
    )
  })
  afterAll(() => {
    // The run's TMPDIR (global-setup.ts) is removed with everything in it.
  })

  it('answers --version and --help from the installed PATH', () => {
    const v = run(['--version'])
    expect(v.code, v.stdout).toBe(0)
    expect(v.stdout).toContain(`openmemory/${version}`)
    const h = run(['--help'])
    expect(h.code, h.stdout).toBe(0)
    expect(h.stdout).toContain('users')
    expect(h.stdout).toContain('keys')
  })

  it('creates a user on a new embedded database with nothing but HOME set', () => {
    const r = run(['users', 'create', 'charlie', 'Charlie Brown', 'charlie@example.com', '--json'])
    expect(r.code, r.stdout).toBe(0)
    const result = JSON.parse(r.stdout)
    expect(result.userId).toBe('charlie')
    expect(result.apiKey).toMatch(/^mem_lab_[a-z0-9]{32}$/)
    const list = run(['users', 'list', '--json'])
    expect(list.code, list.stdout).toBe(0)
  })
})
