import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/**/heavy/**', 'node_modules/**'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // Bounds for a hang only, never for speed: on a loaded 2-core machine a
    // test that spawns the CLI a few times can take minutes (timings belong in bench/).
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    // oclif's this.log() uses console.log: let captureOutput see it.
    disableConsoleIntercept: true,
  },
})
