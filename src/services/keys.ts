/**
 * API keys: `mem_lab_` + random [a-z0-9], from a CSPRNG with no modulo bias
 * (rejection sampling). Stored only as the lowercase hex SHA-256 of the whole
 * key string, which is exactly what the server hashes on every request.
 */
import {createHash, randomBytes} from 'node:crypto'
import {ValidationError} from '../errors.js'

export const KEY_PREFIX = 'mem_lab_'
export const KEY_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'
export const KEY_LENGTH = {min: 12, max: 64, default: 32} as const

/** A plain key just made for a user, on its way to its destination (never stored). */
export interface IssuedKey {
  userId: string
  apiKey: string
}

/** A source of random bytes (injectable for tests). */
export type RandomSource = (size: number) => Uint8Array

// 252 = 7 * 36: bytes at or above it are discarded so every character is equally likely.
const LIMIT = 256 - (256 % KEY_ALPHABET.length)

export function randomKeyChars(length: number, random: RandomSource = randomBytes): string {
  let out = ''
  while (out.length < length) {
    const bytes = random(Math.max(16, (length - out.length) * 2))
    for (const b of bytes) {
      if (b >= LIMIT) continue
      out += KEY_ALPHABET[b % KEY_ALPHABET.length]
      if (out.length === length) break
    }
  }
  return out
}

export function checkKeyLength(length: number): number {
  if (!Number.isInteger(length) || length < KEY_LENGTH.min || length > KEY_LENGTH.max) {
    throw new ValidationError(
      `--key-length must be a whole number from ${KEY_LENGTH.min} to ${KEY_LENGTH.max} (got ${String(length)}).`,
    )
  }
  return length
}

export function generateKey(length: number = KEY_LENGTH.default, random: RandomSource = randomBytes): string {
  return KEY_PREFIX + randomKeyChars(checkKeyLength(length), random)
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}

/** A short non-secret identifier of a key: the first 8 hex characters of its hash. */
export function fingerprint(keyHash: string): string {
  return keyHash.slice(0, 8)
}
