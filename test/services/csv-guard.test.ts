import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {guardCell, unguardCell} from '../../src/services/csv-guard.js'

describe('the one CSV formula guard', () => {
  it('unguard(guard(x)) is x for any string', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({unit: 'grapheme'}), fc.constantFrom("'", "''=", '=1', "'x")),
        (x) => {
          expect(unguardCell(guardCell(x))).toBe(x)
        },
      ),
      {numRuns: 2000},
    )
  })

  it.each([
    ['=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'],
    ['-2+3', "'-2+3"],
    ['+1', "'+1"],
    ['@sum', "'@sum"],
    ['\tx', "'\tx"],
    ['\rx', "'\rx"],
    ["'quoted", "''quoted"],
    ['＝1', "'＝1"],
    ['plain', 'plain'],
    ['a=b', 'a=b'],
  ])('guards %j as %j', (value, guarded) => {
    expect(guardCell(value)).toBe(guarded)
    expect(unguardCell(guarded)).toBe(value)
  })

  it("leaves a leading ' alone when no risky character follows it", () => {
    expect(unguardCell("'plain")).toBe("'plain")
  })
})
