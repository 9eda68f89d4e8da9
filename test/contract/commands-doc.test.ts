/**
 * docs/commands.md is generated from the commands (`npm run docs`, oclif
 * readme), so the reference and `--help` are the same text. This regenerates
 * it from the run's private build into a copy and fails when the committed
 * file differs: a changed flag summary fails here until `npm run docs` runs.
 */
import {execFileSync} from 'node:child_process'
import {copyFileSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {expect, it} from 'vitest'
import {CLI_ROOT, ROOT} from '../helpers/run.js'

it('docs/commands.md is what npm run docs generates from the commands', {timeout: 120_000}, () => {
  const committed = path.join(ROOT, 'docs/commands.md')
  const dir = mkdtempSync(path.join(os.tmpdir(), 'om-docs-'))
  try {
    const copy = path.join(dir, 'commands.md')
    copyFileSync(committed, copy)
    execFileSync(
      process.execPath,
      [path.join(ROOT, 'node_modules/oclif/bin/run.js'), 'readme', '--readme-path', copy, '--no-aliases'],
      {
        cwd: CLI_ROOT,
        env: {...process.env, COLUMNS: '100', OCLIF_SKIP_NEW_VERSION_CHECK: 'true'},
        stdio: 'pipe',
      },
    )
    const fresh = readFileSync(copy, 'utf8')
    expect(fresh.length).toBeGreaterThan(10_000)
    expect(
      fresh === readFileSync(committed, 'utf8'),
      'docs/commands.md is out of date: run `npm run docs`',
    ).toBe(true)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})
