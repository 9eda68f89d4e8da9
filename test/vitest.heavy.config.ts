import {defineConfig} from 'vitest/config'

/**
 * The heavy run (`npm run test:heavy`): every soak. The reliability suite at
 * heavy scale (OPENMEMORY_HEAVY=1: at least 200 kills, 50-process races,
 * 1,000+ generated inputs per field, 15 kills of an embedded-database holder)
 * and the tests that live only here, in a `heavy/` folder (the PostgreSQL
 * outage during a prune, the light crash run, creates waiting behind a long
 * embedded prune). `npm test` runs the light versions and leaves `heavy/` out.
 */
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/reliability/**/*.test.ts', 'test/**/heavy/**/*.test.ts'],
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
