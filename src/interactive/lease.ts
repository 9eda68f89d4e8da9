/**
 * The database of one menu action, held only while the action works: closed
 * while the action waits at a prompt, so an operator who walks away from a
 * question leaves the embedded database's lock free for other commands.
 *
 * - Before a prompt (prompts.ts calls `beforePrompt`), the connection closes,
 *   unless a run lock or a transaction is held on it (those are session state).
 * - A query a prompt makes while it waits (the user picker as the operator
 *   types, a taken-userId check on Enter) goes through `use`: it opens the
 *   database, and closes it again IDLE_MS after the last such query.
 * - After the prompt (`afterPrompt`) it is opened again before the action goes on.
 *
 * `database` is the same object throughout: its `db` and methods reach
 * whichever connection is open at the time of the call.
 */
import type {Database, Db, WithDb} from '../db/client.js'
import type {MenuConnection} from './menu.js'

/** How long a connection opened by a prompt's query stays open after it. */
export const IDLE_MS = 1_500

export class ActionLease {
  readonly database: Database
  /** Run `fn` on the open database, opening it if a prompt closed it. */
  readonly use: WithDb = async (fn) => {
    this.using++
    this.cancelIdle()
    try {
      return await fn((await this.ready()).db)
    } finally {
      this.using--
      if (this.atPrompt && this.using === 0) this.idle = setTimeout(() => void this.close(), IDLE_MS)
    }
  }

  private current: Database | undefined
  private opening: Promise<Database> | undefined
  private closing: Promise<void> = Promise.resolve()
  private idle: NodeJS.Timeout | undefined
  private atPrompt = false
  private using = 0
  /** Run locks and transactions held: the connection is not closed under them. */
  private pinned = 0

  constructor(private readonly connection: MenuConnection) {
    const open = () => {
      if (!this.current) throw new Error('The menu used its database while a prompt had closed it.')
      return this.current
    }
    const db = new Proxy({} as Db, {
      get: (_, prop) => {
        const real = open().db
        if (prop === 'transaction') {
          return async (...args: Parameters<Db['transaction']>) => {
            this.pinned++
            try {
              return await real.transaction(...args)
            } finally {
              this.pinned--
            }
          }
        }
        const value = Reflect.get(real, prop)
        return typeof value === 'function' ? value.bind(real) : value
      },
    })
    this.database = {
      db,
      target: connection.target,
      get pooled() {
        return open().pooled
      },
      cursor: (query, chunkSize) => open().cursor(query, chunkSize),
      copy: (query, format) => open().copy(query, format),
      acquireRunLock: async (name) => {
        const taken = await open().acquireRunLock(name)
        if (taken) this.pinned++
        return taken
      },
      releaseRunLock: async (name) => {
        try {
          await open().releaseRunLock(name)
        } finally {
          this.pinned--
        }
      },
      // The lease closes it (after the action); an action does not.
      close: async () => {},
    }
  }

  /** The open database, opened if it is closed (once, however many ask at the same time). */
  async ready(): Promise<Database> {
    if (this.current) return this.current
    this.opening ??= (async () => {
      await this.closing
      try {
        this.current = await this.connection.open()
        return this.current
      } finally {
        this.opening = undefined
      }
    })()
    return this.opening
  }

  async beforePrompt(): Promise<void> {
    this.atPrompt = true
    if (this.pinned === 0 && this.using === 0) await this.close()
  }

  async afterPrompt(): Promise<void> {
    this.atPrompt = false
    this.cancelIdle()
    await this.ready()
  }

  /** Close now (a prompt began, the idle time passed, or the action ended). */
  async close(): Promise<void> {
    this.cancelIdle()
    await this.opening?.catch(() => {})
    if (!this.current) return
    this.current = undefined
    this.closing = this.connection.release()
    await this.closing
  }

  private cancelIdle(): void {
    if (this.idle) clearTimeout(this.idle)
    this.idle = undefined
  }
}
