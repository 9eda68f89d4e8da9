/**
 * Help, version, did-you-mean and shell completion, run as a user runs the
 * built CLI (a child process without a terminal).
 */
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {CLI_ROOT, runBin} from './helpers/run.js'

describe('help, version and typos', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'om-help-'))
  // No database is ever touched here: a data dir that would be created shows if one were.
  const env = {
    OPENMEMORY_DATA_DIR: path.join(dir, 'pgdata'),
    XDG_CACHE_HOME: path.join(dir, 'cache'),
    // As installed: vitest's NODE_ENV=test makes oclif look for TypeScript sources of the help class.
    NODE_ENV: 'production',
    DATABASE_URL: undefined,
    OPENMEMORY_DATABASE_URL: undefined,
  }
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it.each([
    [['help'], 'TOPICS'],
    [['-h'], 'TOPICS'],
    [['--help'], 'TOPICS'],
    [['help', 'users', 'create'], 'openmemory users create [USERID]'],
    [['users', 'create', '-h'], 'openmemory users create [USERID]'],
    [['users', 'create', '--help'], 'openmemory users create [USERID]'],
    [['help', 'users'], 'users deactivate'],
  ])('openmemory %j prints help and exits 0', async (argv, expected) => {
    const r = await runBin(argv, {env})
    expect(r.stderr).toBe('')
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toContain(expected)
  })

  it.each([
    [['version']],
    [['-v']],
    [['--version']],
  ])('openmemory %j prints the version and exits 0', async (argv) => {
    const r = await runBin(argv, {env})
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toMatch(/^openmemory\/\d+\.\d+\.\d+ /)
  })

  it("--version before oclif loads prints oclif's own line (config.userAgent), for every version flag", async () => {
    const {Config} = await import('@oclif/core')
    const config = await Config.load(CLI_ROOT)
    const pjson = JSON.parse(readFileSync(path.join(CLI_ROOT, 'package.json'), 'utf8'))
    const flags = ['--version', ...pjson.oclif.additionalVersionFlags]
    expect(flags.length).toBeGreaterThan(1)
    // The command `version` goes through oclif (plugin-version): the reference line.
    const viaOclif = await runBin(['version'], {env})
    expect(viaOclif.stdout).toBe(`${config.userAgent}\n`)
    for (const flag of flags) {
      const r = await runBin([flag], {env})
      expect(r.stdout).toBe(`${config.userAgent}\n`)
      expect(r.stderr).toBe('')
    }
    // Not a version flag first: oclif answers (the fast path only reads the first argument).
    const {fastVersion} = await import(path.join(CLI_ROOT, 'dist/version.js'))
    const pkg = new URL(`file://${path.join(CLI_ROOT, 'package.json')}`)
    expect(fastVersion(['--help'], pkg)).toBeUndefined()
    expect(fastVersion(['users', '--version'], pkg)).toBeUndefined()
    expect(fastVersion([], pkg)).toBeUndefined()
    expect(fastVersion(['-v', 'x'], pkg)).toBe(config.userAgent)
  })

  it('shows examples and the environment variables on the root help', async () => {
    const r = await runBin(['help'], {env})
    const examples = r.stdout.indexOf('EXAMPLES')
    const environment = r.stdout.indexOf('ENVIRONMENT')
    expect(examples).toBeGreaterThan(0)
    expect(environment).toBeGreaterThan(examples)
    expect(r.stdout.slice(examples)).toContain('$ openmemory users create')
    for (const name of ['OPENMEMORY_DATABASE_URL', 'DATABASE_URL', 'OPENMEMORY_DATA_DIR', 'NO_COLOR']) {
      expect(r.stdout.slice(environment)).toContain(name)
    }
  })

  it('suggests the command meant, in words, on one line, exit 2', async () => {
    const r = await runBin(['user', 'create', 'bob'], {env})
    expect(r.exitCode).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toEqual([
      "Error: 'user create bob' is not an openmemory command. Did you mean 'openmemory users create'? Run 'openmemory help' for the list of commands.",
    ])
  })

  it.each([
    [['usres', 'list'], "Did you mean 'openmemory users list'?"],
    [['--verison'], "Did you mean 'openmemory --version'?"],
    [['help', 'user', 'crate'], "Did you mean 'openmemory help users create'?"],
    // A subcommand mistyped under a right topic: the subcommand, not the topic.
    [['users', 'craete'], "Did you mean 'openmemory users create'?"],
    [['users', 'lis'], "Did you mean 'openmemory users list'?"],
    [['keys', 'rotat'], "Did you mean 'openmemory keys rotate'?"],
    [['db', 'verfy'], "Did you mean 'openmemory db verify'?"],
    // A mistyped topic, alone or after help.
    [['userz'], "Did you mean 'openmemory users'?"],
    [['help', 'userz'], "Did you mean 'openmemory help users'?"],
  ])('openmemory %j suggests a correction', async (argv, expected) => {
    const r = await runBin(argv, {env})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain(expected)
    expect(r.stderr).not.toMatch(/\w:\w/) // no internal ids like users:list
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('does not suggest anything for a word far from every command', async () => {
    const r = await runBin(['frobnicate'], {env})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).not.toContain('Did you mean')
  })

  it('suggests the flag meant', async () => {
    const r = await runBin(['users', 'list', '--jsn'], {env})
    expect(r.exitCode).toBe(2)
    expect(r.stderr.trim()).toBe('Error: Unknown flag --jsn. Did you mean --json? See --help.')
  })

  it.each([
    [
      ['users', 'import', 'x.csv', '--key-dir', 'a', '--keys-out', 'b'],
      '--key-dir and --keys-out cannot be used together',
    ],
    [['users', 'import', 'x.csv', '--out', 'f'], '--out needs --seal-to'],
    [['users', 'list', '--limit'], '--limit needs a value'],
    [['users', 'list', '--format', 'xml'], 'Invalid --format "xml": use one of'],
    [['users', 'list', '--frobnicate'], 'Unknown flag --frobnicate'],
  ])("rewords oclif parse errors in the tool's words: %j", async (argv, expected) => {
    const r = await runBin(argv, {env})
    expect(r.exitCode).toBe(2)
    const line = r.stderr.trim()
    expect(line.split('\n')).toHaveLength(1)
    expect(line).toContain(expected)
    expect(line).toMatch(/See --help\.$/)
    expect(line).not.toMatch(/The following error|Nonexistent|cannot also be provided|expects a value/)
  })

  it('under --json an unknown command is a JSON error on stdout and nothing on stderr', async () => {
    const r = await runBin(['users', 'lst', '--json'], {env})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toBe('')
    expect(JSON.parse(r.stdout).error).toMatchObject({code: 'INVALID_INPUT', exitCode: 2})
  })

  it('generates bash completion that completes commands and flags', async () => {
    for (const shell of ['bash', 'zsh', 'powershell']) {
      const r = await runBin(['autocomplete', shell], {env})
      expect(r.exitCode).toBe(0)
    }
    const setup = path.join(env.XDG_CACHE_HOME, 'openmemory/autocomplete/bash_setup')
    const complete = (words: string[]) =>
      execFileSync(
        'bash',
        [
          '-c',
          `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _openmemory_autocomplete; echo "\${COMPREPLY[@]}"`,
          'complete',
          setup,
          ...words,
        ],
        {encoding: 'utf8'},
      ).trim()
    expect(complete(['openmemory', 'users', 'cr'])).toBe('create')
    expect(complete(['openmemory', 'pru'])).toBe('prune-inactive')
    expect(complete(['openmemory', 'users', 'list', '--so'])).toBe('--sort')
    const script = await runBin(['autocomplete', 'script', 'zsh'], {env})
    expect(script.exitCode).toBe(0)
    expect(script.stdout).toContain('OPENMEMORY_AC_ZSH_SETUP_PATH')
  })
})

describe('help at 80 columns', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'om-help80-'))
  const env = {
    OPENMEMORY_DATA_DIR: path.join(dir, 'pgdata'),
    XDG_CACHE_HOME: path.join(dir, 'cache'),
    NODE_ENV: 'production',
    COLUMNS: '80',
    DATABASE_URL: undefined,
    OPENMEMORY_DATABASE_URL: undefined,
  }
  afterAll(() => rmSync(dir, {recursive: true, force: true}))
  const manifest = JSON.parse(readFileSync(path.join(CLI_ROOT, 'oclif.manifest.json'), 'utf8')) as {
    commands: Record<string, {hidden?: boolean}>
  }
  const commands = Object.entries(manifest.commands)
    .filter(([, c]) => !c.hidden)
    .map(([id]) => id.split(':'))
  const topics = [...new Set(commands.filter((c) => c.length > 1).map((c) => c[0] as string))].map((t) => [t])

  it('covers the root, every topic and every command', () => {
    expect(commands.length).toBeGreaterThanOrEqual(19)
    expect(topics.map((t) => t[0])).toEqual(expect.arrayContaining(['users', 'keys', 'db']))
  })

  it.each([
    [[] as string[]],
    ...topics.map((t) => [t]),
    ...commands.map((c) => [c]),
  ])('openmemory %s --help fits in 80 columns', async (words) => {
    const r = await runBin([...words, '--help'], {env})
    expect(r.exitCode, r.stderr).toBe(0)
    const wide = r.stdout.split('\n').filter((line) => [...line].length > 80)
    expect(wide, `lines over 80 columns in 'openmemory ${words.join(' ')} --help'`).toEqual([])
  })
})
