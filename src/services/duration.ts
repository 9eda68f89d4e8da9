/**
 * Relative ages typed on the command line (`12h`, `7d`, `2w`, `3m`, `1y`):
 * one parser for `audit list --since`, `keys list --older-than` and
 * `keys rotate --older-than`. Months and years are calendar months and years
 * (UTC), so `3m` on 31 May is 28 February (or 29), not 90 days.
 */
import {ValidationError} from '../errors.js'
import {show} from './validation.js'

export type AgeUnit = 'h' | 'd' | 'w' | 'm' | 'y'

export interface Age {
  amount: number
  unit: AgeUnit
}

export const AGE_UNITS_HELP = '12h, 7d, 2w, 3m (months) or 1y'

const AGE = /^(\d{1,5})([hdwmy])$/

/** `undefined` when the text is not a relative age. */
export function matchAge(value: string): Age | undefined {
  const m = AGE.exec(value.trim())
  return m ? {amount: Number(m[1]), unit: m[2] as AgeUnit} : undefined
}

/** The instant `age` before `now`; a ValidationError when that is before year 1. */
export function ageCutoff(age: Age, now: Date, flag: string): Date {
  const d = new Date(now.getTime())
  switch (age.unit) {
    case 'h':
      d.setTime(now.getTime() - age.amount * 3_600_000)
      break
    case 'd':
      d.setTime(now.getTime() - age.amount * 86_400_000)
      break
    case 'w':
      d.setTime(now.getTime() - age.amount * 7 * 86_400_000)
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
