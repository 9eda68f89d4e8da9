/**
 * The built binary in a real pseudo-terminal: a detached tmux session, keys
 * sent with send-keys, the screen read with capture-pane (polled, never a
 * fixed sleep).
 */
import {execFileSync} from 'node:child_process'
import {rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {BIN} from '../helpers/run.js'

/** The bound of a wait on the screen: generous, since a loaded machine is slow, but never endless. */
const WAIT_MS = Number(process.env.OPENMEMORY_TEST_WAIT_MS) || 60_000

export class TmuxSession {
  readonly name = `om-e2e-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  private readonly socket = join(tmpdir(), `${this.name}.tmux`)

  /**
   * `rawOutput`: a file that receives every byte the program writes to the
   * terminal (tmux pipe-pane), attached before the program starts.
   */
  constructor(
    env: Record<string, string>,
    args: string[] = [],
    opts: {rawOutput?: string; columns?: number; rows?: number} = {},
  ) {
    const exports = Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`)
    const go = opts.rawOutput ? `${opts.rawOutput}.go` : undefined
    // With raw capture, the program waits until the pipe is attached (a file appears), never a fixed time.
    const wait = go ? `while [ ! -e ${shellQuote(go)} ]; do sleep 0.05; done; ` : ''
    // The exit code stays on screen after the CLI ends; remain-on-exit keeps the pane readable.
    const command = `${wait}env ${exports.join(' ')} ${shellQuote(process.execPath)} ${shellQuote(BIN)} ${args.map(shellQuote).join(' ')}; echo "EXIT=$?"; sleep 600`
    this.tmux([
      'new-session',
      '-d',
      '-s',
      this.name,
      '-x',
      String(opts.columns ?? 200),
      '-y',
      String(opts.rows ?? 50),
      command,
    ])
    if (opts.rawOutput && go) {
      this.tmux(['pipe-pane', '-o', '-t', this.name, `cat >> ${shellQuote(opts.rawOutput)}`])
      writeFileSync(go, '')
    }
  }

  /**
   * Every session has a tmux server of its own (`-S`, removed by kill()): with one shared server, a
   * session created while another test kills the server's last session meets a
   * server on its way out ("server exited unexpectedly").
   */
  private tmux(args: string[], opts: {stdio?: 'ignore'} = {}): string {
    return execFileSync('tmux', ['-S', this.socket, ...args], {encoding: 'utf8', ...opts})
  }

  /** What the terminal shows now (no scrollback). */
  visible(): string {
    return this.tmux(['capture-pane', '-p', '-J', '-t', this.name])
  }

  screen(): string {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-500', '-t', this.name])
  }

  /** Poll the screen until `test` holds for it (bounded like waitFor). */
  async waitUntil(what: string, test: (screen: string) => boolean, timeoutMs = WAIT_MS): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const screen = this.screen()
      if (test(screen)) return screen
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}; screen:\n${screen}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  /**
   * Poll the screen until `text` shows at least `times` times (the screen is
   * redrawn, so positions are not stable; answered prompts stay as history).
   */
  async waitFor(text: string, opts: {times?: number; timeoutMs?: number} = {}): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? WAIT_MS)
    for (;;) {
      if (this.screen().split(text).length - 1 >= (opts.times ?? 1)) return
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${text}; screen:\n${this.screen()}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  /** Type literal text. */
  type(text: string): void {
    this.tmux(['send-keys', '-t', this.name, '-l', text])
  }

  /** Press named keys (Enter, Down, Escape, C-c). */
  press(...keys: string[]): void {
    this.tmux(['send-keys', '-t', this.name, ...keys])
  }

  kill(): void {
    try {
      this.tmux(['kill-server'], {stdio: 'ignore'})
    } catch {}
    rmSync(this.socket, {force: true})
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}
