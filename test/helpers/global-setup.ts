/**
 * Once per test run: build the CLI (end-to-end tests run bin/run.js as users
 * do) and make an initialised, empty PGlite data directory that tests copy
 * instead of running initdb each time.
 */
import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export default async function setup() {
  const root = path.resolve(import.meta.dirname, '../..')
  if (process.env.OPENMEMORY_TEST_SKIP_BUILD !== '1' || !existsSync(path.join(root, 'dist'))) {
    execFileSync('npm', ['run', '--silent', 'build'], {cwd: root, stdio: 'inherit'})
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'om-template-'))
  const dataDir = path.join(dir, 'pgdata')
  const {PGlite} = await import('@electric-sql/pglite')
  const pg = await PGlite.create(dataDir)
  await pg.query('select 1')
  await pg.close()
  process.env.OPENMEMORY_TEST_PGLITE_TEMPLATE = dataDir
  return () => rmSync(dir, {recursive: true, force: true})
}
