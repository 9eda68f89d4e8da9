/**
 * The one duration grammar (src/services/duration.ts): the same text means
 * the same length of time for a wait (--lock-timeout) and for an age
 * (--older-than, --since), and `m` is months everywhere.
 */
import {describe, expect, it} from 'vitest'
import {ValidationError} from '../../src/errors.js'
import {parseOlderThan, parseSince, parseWait, readDuration} from '../../src/services/duration.js'

const NOW = new Date('2026-05-31T12:00:00.000Z')
const HOUR = 3_600_000
const DAY = 24 * HOUR

function refusal(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError)
    const message = (error as Error).message
    expect(message).not.toMatch(/[\n\r\u2028\u2029]/)
    return message
  }
  throw new Error('accepted, expected a refusal')
}

describe('a wait (--lock-timeout)', () => {
  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['1.5s', 1500],
    ['10', 10_000],
    ['0.5', 500],
    ['2min', 120_000],
    ['90min', 90 * 60_000],
    ['1h', HOUR],
    ['24h', DAY],
    ['1d', DAY],
    [' 10s ', 10_000],
  ])('%j is %d ms', (text, ms) => {
    expect(parseWait(text, '--lock-timeout')).toBe(ms)
  })

  it('refuses 2m, saying m means months and to write 2min', () => {
    const message = refusal(() => parseWait('2m', '--lock-timeout'))
    expect(message).toContain('--lock-timeout')
    expect(message).toContain('m means months')
    expect(message).toContain('write 2min')
  })

  it.each([
    ['25h', /at most 24h/],
    ['2d', /at most 24h/],
    ['1w', /at most 24h/],
    ['1y', /must be a duration/],
    ['0', /longer than 0/],
    ['0s', /longer than 0/],
    ['0.0001s', /longer than 0/],
    ['soon', /must be a duration/],
    ['10S', /must be a duration/],
    ['10 s', /must be a duration/],
    ['10sec', /must be a duration/],
    ['-1s', /must be a duration/],
    ['', /must be a duration/],
  ])('refuses %j', (text, reason) => {
    expect(refusal(() => parseWait(text, '--lock-timeout'))).toMatch(reason)
  })

  it('names where the value came from', () => {
    expect(refusal(() => parseWait('2m', 'OPENMEMORY_LOCK_TIMEOUT'))).toMatch(/^OPENMEMORY_LOCK_TIMEOUT /)
  })
})

describe('an age (--older-than, --since)', () => {
  it.each([
    ['12h', '2026-05-31T00:00:00.000Z'],
    ['7d', '2026-05-24T12:00:00.000Z'],
    ['2w', '2026-05-17T12:00:00.000Z'],
    // Calendar months, clamped to the end of the target month: never minutes, never 30-day blocks.
    ['3m', '2026-02-28T12:00:00.000Z'],
    ['1m', '2026-04-30T12:00:00.000Z'],
    ['12m', '2025-05-31T12:00:00.000Z'],
    ['1y', '2025-05-31T12:00:00.000Z'],
    ['0d', '2026-05-31T12:00:00.000Z'],
  ])('--older-than %j from 31 May 2026 12:00 is %s', (text, cutoff) => {
    expect(parseOlderThan(text, NOW).toISOString()).toBe(cutoff)
    expect(parseSince(text, NOW).toISOString()).toBe(cutoff)
  })

  it('3m on 31 May of a leap year is 29 February', () => {
    expect(parseOlderThan('3m', new Date('2024-05-31T08:00:00Z')).toISOString()).toBe(
      '2024-02-29T08:00:00.000Z',
    )
  })

  it.each([
    '3min',
    '90s',
    '500ms',
    '1.5d',
    '123456d',
    '90',
    '3M',
    '3 m',
    '90x',
    '',
  ])('refuses %j as an age', (text) => {
    expect(refusal(() => parseOlderThan(text, NOW))).toMatch(
      /^Invalid --older-than .*12h, 7d, 2w, 3m \(months\) or 1y/,
    )
  })

  it('--since also takes dates, and refuses days a month does not have', () => {
    expect(parseSince('2026-11-01', NOW).toISOString()).toBe('2026-11-01T00:00:00.000Z')
    expect(parseSince('2026-11-01T10:00:00', NOW).toISOString()).toBe('2026-11-01T10:00:00.000Z')
    expect(refusal(() => parseSince('2026-02-30', NOW))).toMatch(/^Invalid --since /)
  })
})

describe('one grammar', () => {
  it.each(['1h', '12h', '24h', '1d'])('%j is as long a wait as it is an age', (text) => {
    expect(parseWait(text, '--lock-timeout')).toBe(NOW.getTime() - parseOlderThan(text, NOW).getTime())
  })

  it('reads every unit, and m only as months', () => {
    expect(['ms', 's', 'min', 'h', 'd', 'w', 'm', 'y'].map((u) => readDuration(`2${u}`)?.unit)).toEqual([
      'ms',
      's',
      'min',
      'h',
      'd',
      'w',
      'm',
      'y',
    ])
    expect(readDuration('2mins')).toBeUndefined()
    expect(readDuration('2M')).toBeUndefined()
  })
})
