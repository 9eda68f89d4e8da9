/**
 * Loads the CLI's one CommonJS bundle (dist/openmemory.cjs) with V8's code
 * cache, so a command starts without compiling a megabyte of JavaScript.
 * Node 20 has no module compile cache (module.enableCompileCache is Node 22),
 * so this does what Node's own CommonJS loader does, through vm.Script with
 * cachedData.
 *
 * The cache (dist/openmemory.cjs.cache) is written by the build
 * (scripts/build.mjs, `writeCodeCache`), next to the code it caches, with the
 * same owner: nothing is written at run time, and no cache outside the
 * package (a shared /tmp) can be planted. V8 rejects a cache made by another
 * Node or V8 version or other flags, and the bundle is then compiled as usual.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {createRequire, Module} from 'node:module'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import vm from 'node:vm'

export const BUNDLE = fileURLToPath(new URL('../dist/openmemory.cjs', import.meta.url))
export const CODE_CACHE = `${BUNDLE}.cache`

/**
 * CommonJS's module wrapper, and `__omImport`: the bundle's dynamic imports
 * (node: built-ins, the embedded server's binaries package, oclif's ES module
 * plugins) go through it (scripts/build.mjs rewrites them), because a script
 * compiled from a code cache cannot import() on Node 20.
 */
const WRAPPER = ['(function (exports, require, module, __filename, __dirname, __omImport) {', '\n})']
const dynamicImport = (specifier) => import(specifier)

/**
 * Evaluate the bundle once per process and return its exports. Registered in
 * require's cache first, so oclif's own require of the bundle (package.json
 * names it for the commands, the help class and the hook) gets these exports.
 */
export function loadBundle() {
  return load().exports
}

/** What became of the code cache when this process loaded the bundle (for tests and `DEBUG`). */
export let codeCache = 'not loaded'

function load() {
  const require = createRequire(BUNDLE)
  const loaded = require.cache[BUNDLE]
  if (loaded) return {exports: loaded.exports, script: undefined}
  // Stack traces mapped to the sources (DEBUG, --enable-source-maps): Node's own loader
  // reads the source map; a vm.Script's stack stays in the bundle. No code cache then.
  if (process.sourceMapsEnabled) {
    codeCache = 'not used (source maps)'
    return {exports: require(BUNDLE), script: undefined}
  }
  let cachedData
  try {
    cachedData = readFileSync(CODE_CACHE)
  } catch {
    // No cache (a development build): compiled as usual.
  }
  const script = new vm.Script(`${WRAPPER[0]}${readFileSync(BUNDLE, 'utf8')}${WRAPPER[1]}`, {
    filename: BUNDLE,
    cachedData,
  })
  codeCache = cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted'
  const module = new Module(BUNDLE)
  module.filename = BUNDLE
  require.cache[BUNDLE] = module
  try {
    script.runInThisContext()(module.exports, require, module, BUNDLE, path.dirname(BUNDLE), dynamicImport)
  } catch (error) {
    delete require.cache[BUNDLE]
    throw error
  }
  module.loaded = true
  return {exports: module.exports, script}
}

/**
 * For the build: load the bundle, run `warm` (work whose functions V8 then
 * compiles, so the cache holds them too), and write the cache when the
 * process exits (a command may end it with process.exit). Returns the size.
 */
export async function writeCodeCache(warm) {
  const {exports, script} = load()
  if (!script) throw new Error('the bundle was already loaded in this process')
  let size = 0
  process.once('exit', () => {
    const data = script.createCachedData()
    writeFileSync(CODE_CACHE, data)
    size = data.length
  })
  await warm(exports)
  return () => size
}
