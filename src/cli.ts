/**
 * The one bundle (dist/openmemory.cjs, built by scripts/build.mjs) starts
 * here: oclif's execute and everything package.json's oclif section names,
 * so they share one copy of @oclif/core. bin/run.js loads it with V8's code
 * cache (bin/load-bundle.js).
 */
export {Config} from '@oclif/core'
export {execute} from '@oclif/core/execute'
export {protectArgv} from './argv-secrets.js'
export {COMMANDS} from './commands.js'
export {default as OpenMemoryHelp} from './help.js'
export {default as commandNotFound} from './hooks/command-not-found.js'
