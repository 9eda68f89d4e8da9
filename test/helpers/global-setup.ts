/**
 * Once per test run:
 *
 * - A run tag and a private temporary root. Every temp folder the tests (and
 *   the CLI processes they start) make lands under that root, because TMPDIR
 *   points there; every database they create carries the tag in its name. The
 *   teardown removes both, so a run that fails half-way leaves nothing behind.
 * - A private build of the CLI: the repo's sources are copied into the run's
 *   root and built there, and end-to-end tests run that copy. The checkout's
 *   own dist/ is never touched, so `openmemory` keeps working from it while
 *   the suite runs.
 * - An initialised, empty embedded data directory that tests copy instead of
 *   running initdb each time, and migrated templates of every fixture on both
 *   drivers (databases.ts, `createTestDatabase(driver, fixture, {migrated})`):
 *   the one per-driver set-up, done once, that every test file copies.
 *
 * The build runs in a child process while the templates are made.
 */
import {execFile} from 'node:child_process'
import {cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import postgres from 'postgres'

const ROOT = path.resolve(import.meta.dirname, '../..')
const ADMIN_URL = process.env.OPENMEMORY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
/** What the build needs; everything else (tests, benches, .git, node_modules) stays out. */
const NOT_COPIED = new Set([
  '.git',
  'node_modules',
  'dist',
  'oclif.manifest.json',
  'test',
  'bench',
  'coverage',
])

/** Drop every database whose name carries this run's tag (tests name theirs with testDbName). */
export async function dropTaggedDatabases(tag: string): Promise<string[]> {
  const admin = postgres(ADMIN_URL, {max: 1, onnotice: () => {}, connect_timeout: 10})
  try {
    const rows = await admin<{datname: string}[]>`
      select datname from pg_database where datname like ${`%\\_${tag}\\_%`}`
    for (const {datname} of rows) await admin.unsafe(`drop database if exists "${datname}" with (force)`)
    return rows.map((r) => r.datname)
  } finally {
    await admin.end({timeout: 5})
  }
}

function buildPrivateCopy(into: string): Promise<void> {
  mkdirSync(into, {recursive: true})
  for (const item of readdirSync(ROOT)) {
    if (!NOT_COPIED.has(item)) cpSync(path.join(ROOT, item), path.join(into, item), {recursive: true})
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(into, 'node_modules'))
  return new Promise((resolve, reject) => {
    const child = execFile('npm', ['run', '--silent', 'build'], {cwd: into}, (error) =>
      error ? reject(error) : resolve(),
    )
    child.stdout?.pipe(process.stdout)
    child.stderr?.pipe(process.stderr)
  })
}

export default async function setup() {
  const tag = `r${Math.random().toString(36).slice(2, 8)}`
  const runRoot = mkdtempSync(path.join(os.tmpdir(), `om-run-${tag}-`))
  const teardown = async () => {
    const dropped = (
      await dropTaggedDatabases(tag).catch((error) => {
        process.stderr.write(`test teardown: could not drop the run's databases: ${error}\n`)
        return []
      })
    ).filter((name) => !name.startsWith('om_tpl_'))
    if (dropped.length > 0)
      process.stderr.write(`test teardown: dropped ${dropped.length} leftover database(s)\n`)
    rmSync(runRoot, {recursive: true, force: true})
  }
  try {
    process.env.OPENMEMORY_TEST_RUN = tag
    const tmp = path.join(runRoot, 'tmp')
    mkdirSync(tmp)
    process.env.TMPDIR = tmp
    // The tool's data directory (journals of key-writing runs, src/ui/pending.ts): the run's own.
    const dataHome = path.join(runRoot, 'data-home')
    mkdirSync(dataHome)
    process.env.XDG_DATA_HOME = dataHome

    const cliRoot = path.join(runRoot, 'cli')
    const built = buildPrivateCopy(cliRoot)
    built.catch(() => {}) // awaited below; not unhandled if the templates fail first
    process.env.OPENMEMORY_TEST_CLI_ROOT = cliRoot

    // An initialised embedded data directory (initdb, nothing migrated), made as the CLI makes one.
    const dataDir = path.join(runRoot, 'embedded-template')
    const {startEmbedded} = await import('../../src/db/embedded.js')
    await (await startEmbedded(dataDir, {lockWaitMs: 10_000})).stop()
    process.env.OPENMEMORY_TEST_EMBEDDED_TEMPLATE = dataDir

    const templates = path.join(runRoot, 'templates')
    mkdirSync(templates)
    const {buildMigratedTemplates} = await import('./databases.js')
    await Promise.all([built, buildMigratedTemplates(templates, tag)])
    process.env.OPENMEMORY_TEST_TEMPLATES = templates
  } catch (error) {
    await teardown()
    throw error
  }
  return teardown
}
