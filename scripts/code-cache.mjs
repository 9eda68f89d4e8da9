#!/usr/bin/env node
/**
 * Writes dist/openmemory.cjs.cache (run by scripts/build.mjs after the bundle
 * and the manifest): the bundle loaded the way bin/run.js loads it, then one
 * real command, `users create`, on a scratch embedded database in a temporary
 * folder (HOME too), so V8 has compiled what a command runs (oclif's
 * configuration and parser, the connection, postgres.js, drizzle, the flow)
 * when the cache is taken at exit. Where the embedded server cannot start,
 * the cache still holds what ran until then. Nothing outside the temporary
 * folder is touched; the folder is removed.
 *
 * Its stdout (the scratch user's key) is not shown; its last stderr line says
 * what the cache holds.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {writeCodeCache} from '../bin/load-bundle.js'

const root = path.resolve(import.meta.dirname, '..')
const scratch = mkdtempSync(path.join(os.tmpdir(), 'openmemory-code-cache-'))
for (const name of ['DATABASE_URL', 'OPENMEMORY_DATABASE_URL', 'DEBUG']) delete process.env[name]
Object.assign(process.env, {
  HOME: scratch,
  OPENMEMORY_DATA_DIR: path.join(scratch, 'data'),
  OPENMEMORY_NO_PROMPT: '1',
  OCLIF_SKIP_NEW_VERSION_CHECK: 'true',
})
const size = await writeCodeCache(async ({execute}) => {
  await execute({
    args: ['users', 'create', 'codecache', '--json'],
    loadOptions: {root, userPlugins: false},
  }).catch(() => {})
})
process.once('exit', (code) => {
  rmSync(scratch, {recursive: true, force: true})
  process.stderr.write(
    `\ncode cache: ${Math.round(size() / 1024)} KiB, taken after 'users create' on a scratch embedded database (${code === 0 ? 'it ran' : `it exited ${code}`})\n`,
  )
})
