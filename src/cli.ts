/**
 * The entry the bundle starts from (bin/run.js imports it): oclif's execute,
 * bundled with the commands so both share one copy of @oclif/core.
 */
export {execute} from '@oclif/core/execute'
export {protectArgv} from './argv-secrets.js'
