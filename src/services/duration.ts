/**
 * The one duration grammar of the command line, for every flag and variable
 * that takes a length of time (`--lock-timeout`, `OPENMEMORY_LOCK_TIMEOUT`,
 * `--older-than`, `--since`): a number and a unit, no space, lower case.
 *
 *   ms  milliseconds     h  hours     m  calendar months (UTC)
 *   s   seconds          d  days      y  calendar years (UTC)
 *   min minutes          w  weeks
 *
 * `m` means months everywhere, so a rotation policy of `--older-than 3m`
 * never turns into three minutes; minutes are spelled `min`. Months and years
 * are calendar months and years: `3m` before 31 May is 28 (or 29) February,
 * not 90 days.
 *
 * Each use takes the part of the grammar that makes sense for it: a wait
 * (`--lock-timeout`) takes the fixed-length units up to 24h (a bare number is
 * seconds, a fraction is allowed: `1.5s`); an age (`--older-than`, `--since`)
 * takes whole hours, days, weeks, months or years (`12h`, `7d`, `2w`, `3m`,
 * `1y`, at most 5 digits).
 */
import {ValidationError} from '../errors.js'
import {show} from './validation.js'

export type DurationUnit = 'ms' | 's' | 'min' | 'h' | 'd' | 'w' | 'm' | 'y'

/** The grammar, stated once: every `--help` that takes a duration quotes it. */
export const DURATION_GRAMMAR =
  'A duration is a number and a unit, no space: ms, s, min (minutes), h, d, w, m (calendar months, never minutes) or y.'

/** The ages `--older-than` and `--since` take. */
export const AGE_UNITS_HELP = '12h, 7d, 2w, 3m (months) or 1y'

/** Milliseconds of the fixed-length units (m and y are calendar units). */
const UNIT_MS = {ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000} as const

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|min|h|d|w|m|y)?$/

export interface Duration {
  /** The number as written (`1.5`, `007`). */
  digits: string
  amount: number
  /** Absent for a bare number. */
  unit?: DurationUnit
}

/** `text` (surrounding spaces ignored) read by the grammar; `undefined` when it does not follow it. */
export function readDuration(text: string): Duration | undefined {
  const m = DURATION.exec(text.trim())
  if (!m) return undefined
  const [, digits = '', unit] = m
  return unit === undefined
    ? {digits, amount: Number(digits)}
    : {digits, amount: Number(digits), unit: unit as DurationUnit}
}

export const MAX_WAIT_MS = 24 * 3_600_000

/**
 * A wait in milliseconds (`--lock-timeout 10s`): ms, s, min, h, d or w, a
 * bare number being seconds; more than 0 and at most `max`. `name` is what
 * the value came from (`--lock-timeout`, `OPENMEMORY_LOCK_TIMEOUT`).
 */
export function parseWait(text: string, name: string, max = MAX_WAIT_MS): number {
  const d = readDuration(text)
  const got = `(got ${show(text)})`
  if (d?.unit === 'm') {
    throw new ValidationError(
      `${name} ${show(text)} would be ${d.digits} months: m means months; for minutes write ${d.digits}min.`,
    )
  }
  if (!d || d.unit === 'y') {
    throw new ValidationError(
      `${name} must be a duration such as 10s, 500ms or 2min (ms, s, min, h), at most ${formatWait(max)} ${got}.`,
    )
  }
  const ms = Math.round(d.amount * UNIT_MS[d.unit ?? 's'])
  if (ms < 1) throw new ValidationError(`${name} must be longer than 0 ${got}.`)
  if (ms > max) throw new ValidationError(`${name} must be at most ${formatWait(max)} ${got}.`)
  return ms
}

/** `10s`, `500ms`, `24h`: a wait as the grammar writes it. */
export function formatWait(ms: number): string {
  for (const unit of ['h', 'min', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`
  }
  return `${ms}ms`
}

export type AgeUnit = 'h' | 'd' | 'w' | 'm' | 'y'

export interface Age {
  amount: number
  unit: AgeUnit
}

const AGE_UNITS = new Set<DurationUnit>(['h', 'd', 'w', 'm', 'y'])

/** `undefined` when the text is not an age: a whole number (at most 5 digits) of h, d, w, m or y. */
export function matchAge(value: string): Age | undefined {
  const d = readDuration(value)
  if (!d?.unit || !AGE_UNITS.has(d.unit) || !/^\d{1,5}$/.test(d.digits)) return undefined
  return {amount: d.amount, unit: d.unit as AgeUnit}
}

/** The instant `age` before `now`; a ValidationError when that is before year 1. */
export function ageCutoff(age: Age, now: Date, flag: string): Date {
  const d = new Date(now.getTime())
  switch (age.unit) {
    case 'h':
    case 'd':
    case 'w':
      d.setTime(now.getTime() - age.amount * UNIT_MS[age.unit])
      break
    case 'm':
    case 'y': {
      const months = age.unit === 'm' ? age.amount : age.amount * 12
      // Clamp to the last day of the target month: 31 May - 3m = 28/29 Feb, not 3 March.
      const day = now.getUTCDate()
      d.setUTCDate(1)
      d.setUTCMonth(d.getUTCMonth() - months)
      const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate()
      d.setUTCDate(Math.min(day, last))
      break
    }
  }
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1) {
    throw new ValidationError(`Invalid ${flag} ${show(`${age.amount}${age.unit}`)}: that is too far back.`)
  }
  return d
}

/** Parse `--older-than`: a relative age only (a key older than 90 days: `90d`). */
export function parseOlderThan(value: string, now = new Date(), flag = '--older-than'): Date {
  const age = matchAge(value)
  if (!age) throw new ValidationError(`Invalid ${flag} ${show(value)}: use an age such as ${AGE_UNITS_HELP}.`)
  return ageCutoff(age, now, flag)
}

/** `--since`: `2026-11-01`, `2026-11-01T10:00:00Z` (a time without zone is UTC), or an age: `12h`, `7d`, `2w`, `3m`, `1y`. */
export function parseSince(value: string, now = new Date(), flag = '--since'): Date {
  const age = matchAge(value)
  if (age) return ageCutoff(age, now, flag)
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    const s = value.trim()
    // Date() rolls 2026-02-30 over to March 2: refuse days the month does not have.
    const [y, m, day] = s.slice(0, 10).split('-').map(Number) as [number, number, number]
    const inMonth = m >= 1 && m <= 12 && day >= 1 && day <= new Date(Date.UTC(y, m, 0)).getUTCDate()
    const d = new Date(/[T ]/.test(s) && !/(Z|[+-]\d{2}:?\d{2})$/.test(s) ? `${s.replace(' ', 'T')}Z` : s)
    if (inMonth && !Number.isNaN(d.getTime())) return d
  }
  throw new ValidationError(
    `Invalid ${flag} ${show(value)}: use a date (2026-11-01), a UTC time, or an age (${AGE_UNITS_HELP}).`,
  )
}
