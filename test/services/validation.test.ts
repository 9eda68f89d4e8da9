import {describe, expect, it} from 'vitest'
import {parseSince} from '../../src/services/duration.js'
import {parseName, parseUserId, show} from '../../src/services/validation.js'

describe('error messages quote input on one line', () => {
  it('escapes line and paragraph separators, which JSON.stringify leaves raw', () => {
    expect(show('a\u2028b\u2029c\nd')).toBe('"a\\u2028b\\u2029c\\nd"')
  })
  it.each([
    ['userId', () => parseUserId('x\u2028y')],
    ['name', () => parseName('\u2029')],
    ['--since', () => parseSince('\u2028')],
  ])('keeps an invalid %s error on one line', (_what, fn) => {
    expect(fn).toThrow()
    try {
      fn()
    } catch (error) {
      expect((error as Error).message).not.toMatch(/[\n\r\u2028\u2029]/)
    }
  })
})
