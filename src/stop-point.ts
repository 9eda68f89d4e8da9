/**
 * Named moments of a key-writing run where a test can stop the process:
 * with OPENMEMORY_STOP_AT=<name> the process sends itself SIGSTOP there, so a
 * test can deliver SIGINT, SIGTERM or SIGKILL at exactly that moment (then
 * SIGCONT). A short wait afterwards lets a signal's handler run at that point.
 *
 * `staged` (key files written, transaction not yet open), `in-transaction`
 * (its statements run, COMMIT not yet sent), `committed` (COMMIT answered,
 * files not yet renamed). Unset, it does nothing.
 */
export async function stopPoint(name: 'staged' | 'in-transaction' | 'committed'): Promise<void> {
  if (process.env.OPENMEMORY_STOP_AT !== name) return
  process.kill(process.pid, 'SIGSTOP')
  await new Promise((resolve) => setTimeout(resolve, 100))
}
