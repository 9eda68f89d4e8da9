/**
 * Helpers for the bulk key commands (`users import`, `keys rotate
 * --older-than`): run a command against either driver, make team CSVs, and
 * read keys back with the real `age` binary.
 */
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {parse} from 'csv-parse/sync'
import type {TestDatabase} from './databases.js'
import {type RunResult, runCommand} from './run.js'

/** Run a command on the test database: --database-url for PostgreSQL, OPENMEMORY_DATA_DIR for the embedded database. */
export function runOn<T = unknown>(
  td: TestDatabase,
  cmd: {run(argv?: string[], opts?: string): Promise<unknown>},
  argv: string[],
  env: Record<string, string | undefined> = {},
): Promise<RunResult<T>> {
  if (td.driver === 'postgres') return runCommand<T>(cmd, [...argv, '--database-url', td.url!], env)
  return runCommand<T>(cmd, argv, {
    DATABASE_URL: undefined,
    OPENMEMORY_DATABASE_URL: undefined,
    OPENMEMORY_DATA_DIR: td.dataDir,
    ...env,
  })
}

/** A team CSV with the header `users list --format csv` writes (plus an ignored column). */
export function teamCsv(n: number, prefix = 'member', edit?: (i: number, row: string[]) => string[]): string {
  const lines = ['userId,name,email,keyStatus,apps']
  for (let i = 1; i <= n; i++) {
    const row = [`${prefix}${i}`, `Member ${i}`, `${prefix}${i}@example.com`, 'active', '']
    lines.push((edit ? edit(i, row) : row).join(','))
  }
  return `${lines.join('\n')}\n`
}

/** A fresh age identity made by the real age-keygen: its file and recipient. */
export function ageIdentity(dir: string): {identityFile: string; recipient: string} {
  const identityFile = path.join(dir, 'key.txt')
  execFileSync('age-keygen', ['-o', identityFile], {stdio: 'pipe'})
  const recipient = execFileSync('age-keygen', ['-y', identityFile], {encoding: 'utf8'}).trim()
  return {identityFile, recipient}
}

/** `age -d -i key.txt FILE`, parsed as the userId,apiKey CSV it holds. */
export function ageDecryptKeys(identityFile: string, file: string): {userId: string; apiKey: string}[] {
  const plain = execFileSync('age', ['-d', '-i', identityFile, file], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  })
  return parse(plain, {columns: true}) as {userId: string; apiKey: string}[]
}

export function readKeysCsv(file: string): {userId: string; apiKey: string}[] {
  return parse(readFileSync(file, 'utf8'), {columns: true}) as {userId: string; apiKey: string}[]
}

export function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'om-bulk-'))
}
