import {expect, it} from 'vitest'
import {runCrashInjection} from './crash-suite.js'
import {HEAVY, seedFromEnv} from './harness.js'

// The light version of the crash-injection run (the heavy one: test/reliability/heavy/).
it.skipIf(HEAVY)(
  'SIGKILL at random moments leaves every invariant intact, and rerunning completes the command (20 kills)',
  async () => {
    const f = await runCrashInjection({kills: 20, seed: seedFromEnv(20261128)})
    console.log(`[reliability] crash (light): ${JSON.stringify({...f, violations: f.violations.length})}`)
    expect(f.violations).toEqual([])
    expect(f.kills).toBeGreaterThanOrEqual(20)
  },
  300_000,
)
