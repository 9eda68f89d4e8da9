/**
 * What a service needs from the outside world, injected so tests are exact:
 * the clock, the id and key generators, and who is acting (for the audit trail).
 */
import {randomUUID} from 'node:crypto'
import os from 'node:os'
import {generateKey} from './keys.js'

export interface ServiceContext {
  now: () => Date
  uuid: () => string
  newKey: (length: number) => string
  actor: {osUser: string; host: string}
  /** The command as the audit trail names it, e.g. `users create`. */
  command: string
}

function osUser(): string {
  try {
    return os.userInfo().username
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? 'unknown'
  }
}

export function defaultContext(command: string, overrides: Partial<ServiceContext> = {}): ServiceContext {
  return {
    now: () => new Date(),
    uuid: randomUUID,
    newKey: (length) => generateKey(length),
    actor: {osUser: osUser(), host: os.hostname()},
    command,
    ...overrides,
  }
}
