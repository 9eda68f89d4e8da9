import {expect, it} from 'vitest'
import {runCrashInjection} from '../crash-suite.js'
import {seedFromEnv} from '../harness.js'

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
