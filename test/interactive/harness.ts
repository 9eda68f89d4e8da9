/**
 * Drive the real @inquirer prompts through streams, as @inquirer/testing
 * does, but across a whole flow: keystrokes in, the rendered screen out.
 */
import {PassThrough, Writable} from 'node:stream'
import {stripVTControlCharacters} from 'node:util'
import {setPromptStreams} from '../../src/ui/prompts.js'

export const KEYS = {
  enter: '\r',
  down: '\u001b[B',
  up: '\u001b[A',
  escape: '\u001b',
  ctrlC: '\u0003',
  backspace: '\u007f',
} as const

export interface Terminal {
  /** Everything written to the prompt stream so far, without escape sequences. */
  screen(): string
  /** Wait until the screen shows `text` after the given position (default: anywhere). */
  waitFor(text: string | RegExp, opts?: {after?: number; timeoutMs?: number}): Promise<number>
  /** Type characters or keys, then let the prompt render. */
  type(...keys: string[]): Promise<void>
  close(): void
}

export function fakeTerminal(): Terminal {
  const input = Object.assign(new PassThrough(), {isTTY: true, setRawMode: () => input})
  let raw = ''
  const output = new Writable({
    write(chunk, _encoding, done) {
      raw += chunk.toString()
      done()
    },
  })
  // Each prompt pipes into this stream and ends its pipe when done: keep it open for the next.
  Object.assign(output, {isTTY: true, columns: 200, rows: 60, end: () => output})
  setPromptStreams({input, output, interactive: true})
  const screen = () => stripVTControlCharacters(raw)
  const tick = (ms: number) => new Promise((r) => setTimeout(r, ms))
  return {
    screen,
    async waitFor(text, opts = {}) {
      const deadline = Date.now() + (opts.timeoutMs ?? 60_000)
      for (;;) {
        const s = screen().slice(opts.after ?? 0)
        const at = typeof text === 'string' ? s.indexOf(text) : s.search(text)
        if (at >= 0) return (opts.after ?? 0) + at
        if (Date.now() > deadline) {
          throw new Error(`Timed out waiting for ${String(text)}; screen ends with:\n${s.slice(-1500)}`)
        }
        await tick(10)
      }
    },
    async type(...keys) {
      for (const k of keys) {
        input.write(k)
        // A lone Esc is only recognised after readline's escape timeout.
        await tick(k === KEYS.escape ? 700 : 30)
      }
    },
    close() {
      setPromptStreams({})
      input.end()
    },
  }
}
