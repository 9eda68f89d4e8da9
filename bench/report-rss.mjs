// Preloaded into the CLI by the benchmark (NODE_OPTIONS=--import): writes the
// process's peak resident memory (KiB) to $OPENMEMORY_BENCH_RSS_FILE on exit.
import {writeFileSync} from 'node:fs'

process.on('exit', () => {
  const file = process.env.OPENMEMORY_BENCH_RSS_FILE
  if (file) writeFileSync(file, String(process.resourceUsage().maxRSS))
})
