#!/usr/bin/env node
import {fileURLToPath} from 'node:url'

// Stack traces map to the TypeScript sources when DEBUG is set (dist/ ships source maps).
if (process.env.DEBUG) process.setSourceMapsEnabled(true)

// `--version` (or -v) first: the very line oclif prints for it, without loading oclif (src/version.ts).
const version = process.argv[2]?.startsWith('-')
  ? (await import('../dist/version.js')).fastVersion(
      process.argv.slice(2),
      new URL('../package.json', import.meta.url),
    )
  : undefined
if (version !== undefined) process.stdout.write(`${version}\n`)
else await run()

async function run() {
  // The bundle with V8's code cache (bin/load-bundle.js).
  const {loadBundle} = await import('./load-bundle.js')
  const {execute, protectArgv} = loadBundle()

  // Secrets (--key, URL passwords) are replaced by placeholders before oclif, whose debug
  // output (DEBUG=*) prints process.argv and the command line, sees them; the base command
  // puts the real values back into the parsed flags.
  if (process.argv.length > 2)
    process.argv.splice(2, process.argv.length, ...protectArgv(process.argv.slice(2)))

  // No arguments: the interactive command (a menu on a terminal, else the help).
  // userPlugins: false: oclif would otherwise load "user plugins" listed in a
  // package.json in its data folder (~/.local/share/openmemory, or
  // OPENMEMORY_DATA_DIR, which it also reads): never run code from there.
  await execute({
    loadOptions: {root: fileURLToPath(import.meta.url), userPlugins: false},
    args: process.argv.length > 2 ? undefined : ['interactive', '--or-help'],
  })
}
