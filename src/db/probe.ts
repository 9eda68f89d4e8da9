/**
 * Bounded connection set-up for a PostgreSQL URL: the whole set-up (every
 * retry included) ends within OPENMEMORY_CONNECT_TIMEOUT, and a peer that
 * answers in another protocol (an HTTP port, say) is recognised on its first
 * reply instead of being reconnected to in a loop.
 */
import net from 'node:net'
import {DatabaseUnavailableError} from '../errors.js'

/** First byte of every message a PostgreSQL server may send first: R E N S v (SSL answers S / N too). */
const FIRST_BYTES = new Set([0x52, 0x45, 0x4e, 0x53, 0x76])

export const DEFAULT_CONNECT_TIMEOUT_S = 10
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000

/** OPENMEMORY_CONNECT_TIMEOUT in seconds (default 10). */
export function connectTimeoutSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.OPENMEMORY_CONNECT_TIMEOUT ?? DEFAULT_CONNECT_TIMEOUT_S)
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_CONNECT_TIMEOUT_S
}

/**
 * A `socket` function for postgres.js (single-host URLs) that counts attempts
 * and calls `notPostgres` when the peer's first bytes cannot start a
 * PostgreSQL reply.
 */
export function sniffingSocket(notPostgres: (where: string) => void) {
  let attempts = 0
  return {
    get attempts() {
      return attempts
    },
    socket(options: {host: string[]; port: number[]; path?: string | false}) {
      attempts++
      const path = typeof options.path === 'string' && options.path !== '' ? options.path : undefined
      const s = path ? net.connect(path) : net.connect({host: options.host[0], port: options.port[0]})
      const where = path ?? `${options.host[0]}:${options.port[0]}`
      s.once('data', (chunk: Buffer) => {
        if (chunk.length > 0 && !FIRST_BYTES.has(chunk[0])) notPostgres(where)
      })
      return s
    },
  }
}

export function notPostgresError(where: string, display: string): DatabaseUnavailableError {
  return new DatabaseUnavailableError(
    `Cannot use database ${display}: ${where} did not answer as PostgreSQL (another service listens there?): check the host and port.`,
  )
}

export function setupTimeoutError(seconds: number, display: string): DatabaseUnavailableError {
  return new DatabaseUnavailableError(
    `Cannot use database ${display}: connection timed out: no PostgreSQL session within ${seconds}s (OPENMEMORY_CONNECT_TIMEOUT); check the host, port and firewall.`,
  )
}
