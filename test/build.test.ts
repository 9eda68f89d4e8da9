/**
 * The built CLI (the run's private build) starts from V8's code cache: the
 * bundle is one CommonJS file compiled with the cache the build wrote
 * (bin/load-bundle.js, scripts/build.mjs). A cache V8 will not take, or none,
 * costs only speed, and dynamic imports still work from a cached script.
 */
import {spawnSync} from 'node:child_process'
import {cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {init as lexerReady, parse as lexImports} from 'es-module-lexer'
import {describe, expect, it} from 'vitest'
import {CLI_ROOT, ROOT} from './helpers/run.js'

/** Load the bundle as bin/run.js does, then run `code` with its exports; print the cache's fate. */
function probe(root: string, code = '', env: Record<string, string> = {}) {
  const script = `
    import {loadBundle} from ${JSON.stringify(path.join(root, 'bin/load-bundle.js'))}
    const bundle = loadBundle()
    const {codeCache} = await import(${JSON.stringify(path.join(root, 'bin/load-bundle.js'))})
    ${code}
    console.log(JSON.stringify({codeCache}))`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: {...process.env, DEBUG: '', ...env},
  })
  expect(r.stderr).toBe('')
  expect(r.status).toBe(0)
  return JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as {codeCache: string}
}

/** A copy of the build whose dist/ can be changed (node_modules and drizzle shared). */
function copyOfBuild(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'om-build-'))
  for (const item of ['bin', 'dist', 'package.json', 'oclif.manifest.json'])
    cpSync(path.join(CLI_ROOT, item), path.join(dir, item), {recursive: true})
  for (const item of ['node_modules', 'drizzle']) symlinkSync(path.join(CLI_ROOT, item), path.join(dir, item))
  return dir
}

function runBuilt(root: string, args: string[]) {
  return spawnSync(process.execPath, [path.join(root, 'bin/run.js'), ...args], {
    encoding: 'utf8',
    env: {...process.env, DEBUG: ''},
  })
}

describe('the built bundle', () => {
  it('is compiled from the code cache the build wrote', () => {
    expect(probe(CLI_ROOT).codeCache).toBe('accepted')
  })

  it('imports from the cached script (a Node 20 vm.Script from a cache loses its import callback)', () => {
    // users import reads its input through `await import('node:fs')` (ui/stdin.ts) before any
    // database: a missing file is its usual one line and exit 2, not "A dynamic import
    // callback was not specified" (exit 1, what it was before the build rewrote import()).
    const r = spawnSync(
      process.execPath,
      [path.join(CLI_ROOT, 'bin/run.js'), 'users', 'import', '/nonexistent/team.csv', '--keys-out', 'k.txt'],
      {encoding: 'utf8', env: {...process.env, DEBUG: '', DATABASE_URL: '', OPENMEMORY_DATABASE_URL: ''}},
    )
    expect(r.stderr).toContain('Cannot read /nonexistent/team.csv (ENOENT)')
    expect(r.status).toBe(2)
    expect(probe(CLI_ROOT).codeCache).toBe('accepted')
  })

  it('is ASCII only, and calls no import() but through Import', async () => {
    const text = readFileSync(path.join(CLI_ROOT, 'dist/openmemory.cjs'), 'latin1')
    expect(/[^\0-\x7f]/.test(text)).toBe(false)
    await lexerReady
    const dynamic = lexImports(text)[0].filter((i) => i.d > -1)
    // The banner's fallback for a plain require() is the one import() left.
    expect(dynamic).toHaveLength(1)
    expect(text.slice(0, dynamic[0].se)).toMatch(/^var __omSourceUrl=.*;var Import=[^;]*import\(s\)$/)
    expect(text.match(/\bImport\(/g)?.length).toBeGreaterThan(3)
  })

  it("sorts oclif's command list by code point, which orders the real ids as localeCompare did", () => {
    const manifest = JSON.parse(readFileSync(path.join(CLI_ROOT, 'oclif.manifest.json'), 'utf8'))
    const ids = Object.keys(manifest.commands)
    expect(ids.length).toBeGreaterThan(20)
    const byLocale = [...ids].sort((a, b) => a.localeCompare(b))
    expect([...ids].sort()).toEqual(byLocale)
    const bundle = readFileSync(path.join(CLI_ROOT, 'dist/openmemory.cjs'), 'latin1')
    expect(bundle.includes('localeCompare')).toBe(false)
    expect(/\.sort\(\((\w+),(\w+)\)=>\1\.id<\2\.id\?-1:\1\.id>\2\.id\?1:0\)/.test(bundle)).toBe(true)
  })

  it('evaluates a command module only when oclif takes that command (the list is lazy in the bundle)', () => {
    const bundle = readFileSync(path.join(CLI_ROOT, 'dist/openmemory.cjs'), 'latin1')
    const commands = readFileSync(path.join(ROOT, 'src/commands.ts'), 'utf8')
    const ids = [...commands.matchAll(/^\s*'?([\w:-]+)'?: \w+,$/gm)].map((m) => m[1])
    expect(ids.length).toBeGreaterThan(15)
    for (const id of ids) {
      const getter = new RegExp(`get ?"?${id}"?\\(\\)\\{return\\(init_\\w+\\(\\),`)
      expect(getter.test(bundle), `a lazy getter for ${id}`).toBe(true)
    }
    // And a getter gives the command's class.
    const out = probe(
      CLI_ROOT,
      `const taken = bundle.COMMANDS['users:list']
       if (typeof taken?.run !== 'function' || taken.summary === undefined) throw new Error('not a command class')`,
    )
    expect(out.codeCache).toBe('accepted')
  })

  it('still runs when V8 rejects the cache or there is none', () => {
    const dir = copyOfBuild()
    try {
      writeFileSync(path.join(dir, 'dist/openmemory.cjs.cache'), Buffer.alloc(4096, 7))
      expect(probe(dir).codeCache).toBe('rejected')
      let r = runBuilt(dir, ['users', '--help'])
      expect(r.status).toBe(0)
      expect(r.stdout).toContain('users create')
      rmSync(path.join(dir, 'dist/openmemory.cjs.cache'))
      expect(probe(dir).codeCache).toBe('absent')
      r = runBuilt(dir, ['version'])
      expect(r.status).toBe(0)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('maps stack traces to the sources under source maps (Node loads the bundle itself then)', () => {
    expect(probe(CLI_ROOT, '', {NODE_OPTIONS: '--enable-source-maps'}).codeCache).toBe(
      'not used (source maps)',
    )
  })
})
