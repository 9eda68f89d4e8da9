import {createHash} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {fingerprint, generateKey, hashKey, KEY_ALPHABET, randomKeyChars} from '../../src/services/keys.js'

describe('keys', () => {
  it('makes mem_lab_ keys of the requested length from [a-z0-9]', () => {
    expect(generateKey()).toMatch(/^mem_lab_[a-z0-9]{32}$/)
    expect(generateKey(12)).toMatch(/^mem_lab_[a-z0-9]{12}$/)
    expect(generateKey(64)).toMatch(/^mem_lab_[a-z0-9]{64}$/)
    expect(() => generateKey(11)).toThrow()
    expect(() => generateKey(65)).toThrow()
  })
  it('discards bytes that would bias the alphabet (rejection sampling)', () => {
    // Bytes 252..255 must be skipped, not folded onto a..d.
    const bytes = [255, 252, 0, 253, 35, 36]
    let i = 0
    const source = (n: number) => Uint8Array.from({length: n}, () => bytes[i++ % bytes.length])
    expect(randomKeyChars(3, source)).toBe(`${KEY_ALPHABET[0]}${KEY_ALPHABET[35]}${KEY_ALPHABET[0]}`)
  })
  it('hashes the whole key with SHA-256 as lowercase hex, and fingerprints with 8 characters', () => {
    const key = 'mem_lab_abc123abc123'
    expect(hashKey(key)).toBe(createHash('sha256').update(key).digest('hex'))
    expect(fingerprint(hashKey(key))).toBe(hashKey(key).slice(0, 8))
  })
})
