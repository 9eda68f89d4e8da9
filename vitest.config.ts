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
    // Test files share their worker process (the modules, PGlite's and oclif's start-up): a
    // quarter less CPU than a fresh process per file. So a test that changes process-wide state
    // (environment, umask, stdout.isTTY, listeners) puts it back, as runCommand does.
    isolate: false,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    // oclif's this.log() uses console.log: let captureOutput see it.
    disableConsoleIntercept: true,
  },
})
