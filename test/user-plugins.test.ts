/**
 * No code from the data directory: oclif loads "user plugins" listed in a
 * package.json in its data folder (~/.local/share/openmemory, or
 * OPENMEMORY_DATA_DIR). A plugin planted there must never run, and a blank
 * OPENMEMORY_DATA_DIR is the same as none.
 */
import {existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {Config} from '@oclif/core'
import {afterEach, beforeEach, expect, it} from 'vitest'
import {copyEmbeddedTemplate} from './helpers/databases.js'
import {CLI_ROOT, runBin} from './helpers/run.js'

let dir = ''
let marker = ''
let xdg = ''
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'om-plugins-'))
  marker = path.join(dir, 'hook-ran')
  xdg = path.join(dir, 'share')
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

/** A linked plugin whose init hook leaves a marker file, listed in `<folder>/package.json`. */
function plantPlugin(folder: string): void {
  const plugin = path.join(dir, 'evil-plugin')
  mkdirSync(plugin, {recursive: true})
  writeFileSync(
    path.join(plugin, 'package.json'),
    JSON.stringify({
      name: 'evil-plugin',
      version: '1.0.0',
      type: 'module',
      oclif: {hooks: {init: './hook.js'}},
    }),
  )
  writeFileSync(
    path.join(plugin, 'hook.js'),
    `import {writeFileSync} from 'node:fs'\nexport default async function () { writeFileSync(${JSON.stringify(marker)}, 'ran') }\n`,
  )
  mkdirSync(folder, {recursive: true})
  writeFileSync(
    path.join(folder, 'package.json'),
    JSON.stringify({
      private: true,
      oclif: {schema: 1, plugins: [{type: 'link', name: 'evil-plugin', root: plugin}]},
    }),
  )
}

const clean = {OPENMEMORY_DATABASE_URL: undefined, DATABASE_URL: undefined, XDG_DATA_HOME: ''}

it('the planted plugin is live: oclif with user plugins on runs its init hook', async () => {
  plantPlugin(path.join(xdg, 'openmemory'))
  const saved = process.env.XDG_DATA_HOME
  process.env.XDG_DATA_HOME = xdg
  try {
    const config = await Config.load({root: CLI_ROOT})
    await config.runHook('init', {argv: [], id: 'users:list'})
  } finally {
    if (saved === undefined) delete process.env.XDG_DATA_HOME
    else process.env.XDG_DATA_HOME = saved
  }
  expect(existsSync(marker)).toBe(true)
})

it('never runs a plugin planted in the default data folder, beside the database', async () => {
  plantPlugin(path.join(xdg, 'openmemory'))
  // The database already there (made from the run's template, not by a slow first run).
  const dataDir = copyEmbeddedTemplate(path.join(xdg, 'openmemory', 'pgdata'))
  const r = await runBin(['db', 'status', '--json'], {
    env: {...clean, XDG_DATA_HOME: xdg, OPENMEMORY_DATA_DIR: undefined},
  })
  expect(r.exitCode, r.stderr).toBe(0)
  expect(JSON.parse(r.stdout)).toMatchObject({source: 'default', driver: 'embedded'})
  expect(r.stdout).toContain(dataDir)
  expect(existsSync(marker)).toBe(false)
})

it('never runs a plugin planted in OPENMEMORY_DATA_DIR (which oclif also reads as its data folder)', async () => {
  const folder = path.join(dir, 'custom')
  plantPlugin(folder)
  const r = await runBin(['users', 'list', '--json'], {
    env: {...clean, XDG_DATA_HOME: xdg, OPENMEMORY_DATA_DIR: folder},
  })
  // Not empty and not a database: refused, untouched.
  expect(r.exitCode).toBe(5)
  expect(readdirSync(folder)).toEqual(['package.json'])
  expect(existsSync(marker)).toBe(false)
})

it('treats a blank OPENMEMORY_DATA_DIR as unset', async () => {
  const cwd = path.join(dir, 'cwd')
  mkdirSync(cwd)
  copyEmbeddedTemplate(path.join(xdg, 'openmemory', 'pgdata'))
  const r = await runBin(['db', 'status', '--json'], {
    cwd,
    env: {...clean, XDG_DATA_HOME: xdg, OPENMEMORY_DATA_DIR: '   '},
  })
  expect(r.exitCode, r.stderr).toBe(0)
  expect(readdirSync(cwd)).toEqual([])
  expect(r.stdout).toContain(path.join(xdg, 'openmemory', 'pgdata'))
  expect(JSON.parse(r.stdout)).toMatchObject({source: 'default'})
})
