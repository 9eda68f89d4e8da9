import {randomUUID} from 'node:crypto'
import type {ServiceContext} from '../../src/services/context.js'
import {generateKey} from '../../src/services/keys.js'

/** A service context with a settable clock. */
export function testContext(command = 'test', now = new Date('2026-06-01T12:00:00.000Z')) {
  const clock = {now}
  const ctx: ServiceContext = {
    now: () => clock.now,
    uuid: randomUUID,
    newKey: (length) => generateKey(length),
    actor: {osUser: 'tester', host: 'testhost'},
    command,
  }
  return {ctx, clock}
}
