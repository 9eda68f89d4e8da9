/**
 * A progress bar on stderr (cli-progress), only on a terminal and never
 * under --json. Off a terminal it is a no-op: cron logs stay clean.
 */
export interface Progress {
  start(total: number): void
  update(value: number): void
  stop(): void
}

const NONE: Progress = {start() {}, update() {}, stop() {}}

export async function progressBar(label: string, enabled: boolean): Promise<Progress> {
  if (!enabled || !process.stderr.isTTY) return NONE
  const {default: cliProgress} = await import('cli-progress')
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} users | {duration_formatted}`,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  )
  return {
    start: (total) => bar.start(total, 0),
    update: (value) => bar.update(value),
    stop: () => bar.stop(),
  }
}
