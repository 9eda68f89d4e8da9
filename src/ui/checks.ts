/**
 * One line per check or step, for `users test` and `db verify`: a status
 * word (coloured only on a terminal), then aligned columns.
 */

import type {TestStep} from '../services/server-check.js'
import type {VerifyCheck} from '../services/verify.js'
import {colors} from './format.js'
import {sanitize} from './sanitize.js'

function mark(status: 'passed' | 'failed' | 'skipped'): string {
  const c = colors()
  if (status === 'passed') return c.green('ok  ')
  if (status === 'failed') return c.red('FAIL')
  return c.dim('skip')
}

/** `ok    login          POST /api/v1/auth/login        200   45 ms  logged in as charlie` */
export function formatStep(step: TestStep): string {
  const http = step.httpStatus === null ? '-' : String(step.httpStatus)
  const time = step.durationMs === null ? '-' : `${step.durationMs} ms`
  return [
    mark(step.status),
    step.step.padEnd(13),
    step.request.padEnd(29),
    http.padStart(3),
    time.padStart(8),
    ` ${sanitize(step.detail)}`,
  ].join('  ')
}

/** `FAIL     2  memories in an app that does not exist: …`; a notice found shows `note`. */
export function formatCheck(check: VerifyCheck): string {
  const more = check.count > check.sample.length ? ', …' : ''
  const sample = check.count > 0 ? `: ${check.sample.map(sanitize).join(', ')}${more}` : ''
  const status =
    check.count === 0
      ? mark('passed')
      : check.severity === 'notice'
        ? colors().yellow('note')
        : mark('failed')
  return `${status}  ${String(check.count).padStart(7)}  ${check.description}${sample}`
}
