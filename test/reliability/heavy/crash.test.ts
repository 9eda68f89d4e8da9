import {expect, it} from 'vitest'
import {runCrashInjection} from '../crash-suite.js'
import {seedFromEnv} from '../harness.js'

// A soak of repeated kills: `npm run test:heavy` only. The 20-kill run, once part
// of `npm test`, stays as it was; then the 200-kill one.
it('SIGKILL at random moments leaves every invariant intact, and rerunning completes the command (20 kills)', async () => {
  const f = await runCrashInjection({kills: 20, seed: seedFromEnv(20261128)})
  console.log(`[reliability] crash (light): ${JSON.stringify({...f, violations: f.violations.length})}`)
  expect(f.violations).toEqual([])
  expect(f.kills).toBeGreaterThanOrEqual(20)
})

it('200+ SIGKILLs at random moments leave every invariant intact, and rerunning completes the command', async () => {
  const kills = Number(process.env.OPENMEMORY_RELIABILITY_KILLS ?? 200)
  const f = await runCrashInjection({
    kills,
    seed: seedFromEnv(7),
    usersPerLane: 8,
    log: (line) => console.log(`[reliability] ${line}`),
  })
  console.log(`[reliability] crash (heavy): ${JSON.stringify({...f, violations: f.violations.length})}`)
  for (const v of f.violations) console.log(`[reliability] violation: ${v}`)
  expect(f.violations).toEqual([])
  expect(f.kills).toBeGreaterThanOrEqual(kills)
})
