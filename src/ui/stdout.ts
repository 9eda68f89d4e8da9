/**
 * stdout for output that streams: each write waits for 'drain' when the
 * stream's buffer is full (backpressure), and a reader that goes away
 * (`| head`) closes it quietly: EPIPE is not an error, the writer just learns
 * that nobody reads any more, so the listing stops and cancels its query.
 */
export class StreamOut {
  private gone = false

  constructor(private readonly stream: NodeJS.WritableStream & {destroyed?: boolean} = process.stdout) {
    // Kept for the life of the process: EPIPE can also surface after the last write.
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') this.gone = true
      else throw error
    })
  }

  /** Whether the reader has gone away. */
  get closed(): boolean {
    return this.gone || Boolean(this.stream.destroyed)
  }

  /** Write, waiting for the reader when its buffer is full. False once the reader has gone. */
  async write(text: string | Uint8Array): Promise<boolean> {
    if (this.closed) return false
    if (text.length === 0) return true
    let flushed: boolean
    try {
      flushed = this.stream.write(text)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EPIPE') this.gone = true
      else throw error
      return false
    }
    if (!flushed && !this.closed) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.stream.off('drain', done)
          this.stream.off('close', done)
          this.stream.off('error', done)
          resolve()
        }
        this.stream.on('drain', done)
        this.stream.on('close', done)
        this.stream.on('error', done)
      })
    }
    return !this.closed
  }
}

let shared: StreamOut | undefined

/** The process's stdout as a StreamOut (one error listener, however many listings run). */
export function stdout(): StreamOut {
  shared ??= new StreamOut(process.stdout)
  return shared
}
