/**
 * The key generator: uniform over [a-z0-9] (chi-square over a million
 * characters at p = 0.001) and no repeats in 100,000 keys.
 */
import {randomBytes} from 'node:crypto'
import {expect, it} from 'vitest'
import {generateKey, KEY_ALPHABET, KEY_PREFIX, randomKeyChars} from '../../src/services/keys.js'
import {HEAVY} from './harness.js'

// Critical value of the chi-square distribution with 35 degrees of freedom at p = 0.001.
const CHI2_35_P001 = 66.62

function chiSquare(text: string): number {
  const counts = new Map<string, number>()
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1)
  const expected = text.length / KEY_ALPHABET.length
  let x2 = 0
  for (const ch of KEY_ALPHABET) x2 += ((counts.get(ch) ?? 0) - expected) ** 2 / expected
  return x2
}

it('draws every character of [a-z0-9] equally often (chi-square over 1,000,000+ characters, p = 0.001)', () => {
  const total = HEAVY ? 10_000_000 : 1_000_000
  // Keys of the default length, as the CLI makes them.
  let text = ''
  while (text.length < total) text += randomKeyChars(32)
  expect(text).toMatch(/^[a-z0-9]+$/)
  const x2 = chiSquare(text)
  console.log(
    `[reliability] keygen: ${text.length} characters, chi-square ${x2.toFixed(2)} (critical ${CHI2_35_P001})`,
  )
  expect(x2).toBeLessThan(CHI2_35_P001)
})

it('the test above can fail: a modulo-biased generator is caught', () => {
  // What rejection sampling prevents: byte % 36 favours the first 4 characters (256 = 7 * 36 + 4).
  const bytes = randomBytes(1_000_000)
  let biased = ''
  for (const b of bytes) biased += KEY_ALPHABET[b % 36]
  expect(chiSquare(biased)).toBeGreaterThan(CHI2_35_P001)
})

it('never repeats a key in 100,000 draws, at the shortest length too', () => {
  for (const length of [32, 12]) {
    const seen = new Set<string>()
    for (let i = 0; i < 100_000; i++) seen.add(generateKey(length))
    expect(seen.size).toBe(100_000)
    for (const k of [...seen].slice(0, 100))
      expect(k).toMatch(new RegExp(`^${KEY_PREFIX}[a-z0-9]{${length}}$`))
  }
})
