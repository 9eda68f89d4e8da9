import {defineConfig} from 'vitest/config'

/**
 * The heavy reliability run (`npm run test:reliability`): at least 200 kills,
 * the PostgreSQL outage during a prune, 50-process races, and 1,000+
 * generated inputs per field. The light versions of the same suites run in
 * the normal `npm test`.
 */
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/reliability/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    env: {OPENMEMORY_HEAVY: '1'},
    testTimeout: 1_800_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // One file at a time: the figures are timings on a shared machine.
    maxWorkers: 1,
    fileParallelism: false,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    disableConsoleIntercept: true,
  },
})
