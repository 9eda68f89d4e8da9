/**
 * The docs, run as a newcomer runs them: every shell block of README.md and
 * docs/*.md (test/helpers/docs-blocks.ts says which and how), in order, each
 * file in a scratch HOME and folder of its own with a fresh embedded database
 * (no database variable, no terminal), `openmemory` on the PATH as the built
 * CLI. Every block must exit 0 under `bash -eo pipefail`; a block marked as
 * needing a server, a terminal or the project's checkout is skipped and
 * listed with its reason. So a guide that uses a file, a folder or a user
 * before making it, or a command that no longer exists, fails here.
 */
import {spawnSync} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {cronCommand, type DocBlock, extractBlocks} from '../helpers/docs-blocks.js'
import {BIN, ROOT} from '../helpers/run.js'

const files = [
  'README.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
]

function blocksOf(file: string): DocBlock[] {
  return extractBlocks(file, readFileSync(path.join(ROOT, file), 'utf8'))
}

/** A scratch HOME with a work folder and `openmemory` on the PATH. */
function scratch(): {home: string; cwd: string; env: Record<string, string>} {
  const home = mkdtempSync(path.join(os.tmpdir(), 'om-docs-'))
  const bin = path.join(home, '.bin')
  const cwd = path.join(home, 'work')
  mkdirSync(bin)
  mkdirSync(cwd)
  const wrapper = path.join(bin, 'openmemory')
  writeFileSync(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`)
  chmodSync(wrapper, 0o755)
  const env: Record<string, string> = {
    HOME: home,
    PATH: `${bin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`,
    LANG: 'C.UTF-8',
    TMPDIR: os.tmpdir(),
  }
  return {home, cwd, env}
}

describe('the shell blocks of the docs', () => {
  it('are found by the extractor: indented fences, cron entries, markers and their reasons', () => {
    const md = [
      '# Guide',
      '```sh',
      'openmemory db migrate',
      '```',
      '1. A step:',
      '',
      '   ```sh',
      '   openmemory users create ann',
      '   ```',
      '<!-- docs-test: needs-server: the API URL is a placeholder -->',
      '',
      '```bash',
      'openmemory users test ann --api-url https://memory.example.com',
      '```',
      '```text',
      'not a command',
      '```',
      '```cron',
      '# /etc/cron.d/openmemory: at 04:00',
      '0 4 1 * * openmemory /usr/local/bin/openmemory keys list --out k-$(date +\\%F)',
      '```',
    ].join('\n')
    const blocks = extractBlocks('guide.md', md)
    expect(blocks.map((b) => [b.line, b.lang, b.script, b.skip?.kind])).toEqual([
      [2, 'sh', 'openmemory db migrate', undefined],
      [7, 'sh', 'openmemory users create ann', undefined],
      [12, 'sh', 'openmemory users test ann --api-url https://memory.example.com', 'needs-server'],
      [18, 'cron', '/usr/local/bin/openmemory keys list --out k-$(date +%F)', undefined],
    ])
    expect(blocks[2]?.skip?.reason).toBe('the API URL is a placeholder')
    expect(cronCommand('@daily openmemory db verify', false)).toBe('openmemory db verify')
    expect(cronCommand('15 3 * * * openmemory db verify', false)).toBe('openmemory db verify')
    expect(() => extractBlocks('g.md', '<!-- docs-test: needs-sever: typo -->\n```sh\nx\n```')).toThrow(
      /unknown docs-test marker "needs-sever"/,
    )
    expect(() => extractBlocks('g.md', '<!-- docs-test: needs-server -->\n```sh\nx\n```')).toThrow(
      /without a reason/,
    )
  })

  it('cover every guide: each file has blocks that run, or says why none can', () => {
    const all = files.flatMap(blocksOf)
    expect(all.filter((b) => !b.skip).length).toBeGreaterThan(20)
  })

  for (const file of files) {
    const blocks = blocksOf(file)
    if (blocks.length === 0) continue
    it(`${file}: every block runs in order on a fresh embedded database`, () => {
      const {cwd, env} = scratch()
      const skipped: string[] = []
      for (const block of blocks) {
        const where = `${block.file}:${block.line}`
        if (block.skip) {
          skipped.push(`${where} (${block.skip.kind}: ${block.skip.reason})`)
          continue
        }
        const r = spawnSync('bash', ['-eo', 'pipefail', '-c', block.script], {
          cwd,
          env,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: 240_000,
        })
        const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.slice(-4000)
        expect(
          r.status,
          `${where} exited ${r.status ?? r.signal}:\n${block.script}\n--- output ---\n${output}`,
        ).toBe(0)
      }
      if (skipped.length > 0) console.log(`docs test, skipped in ${file}:\n  ${skipped.join('\n  ')}`)
    })
  }
})
