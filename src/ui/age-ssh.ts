/**
 * An `ssh-ed25519` age recipient (an operator's SSH public key), which the
 * age-encryption package does not provide. It follows the age specification's
 * ssh-ed25519 stanza (age-encryption.org/v1, as the reference implementation's
 * agessh package builds it), with node:crypto only:
 *
 *   tag      = base64(SHA-256(ssh wire key)[:4])
 *   share    = X25519(e, basepoint), e random
 *   secret   = X25519(tweak, X25519(e, u(pk)))   u(pk): the key as a Montgomery u-coordinate
 *   tweak    = HKDF-SHA-256(ikm = "", salt = ssh wire key, info = LABEL)
 *   wrapKey  = HKDF-SHA-256(ikm = secret, salt = share || u(pk), info = LABEL)
 *   body     = ChaCha20-Poly1305(wrapKey, nonce 0, file key)
 *
 * The real `age -d -i ~/.ssh/id_ed25519` decrypts what it seals (tested).
 */
import {
  createCipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
} from 'node:crypto'
import {Stanza} from 'age-encryption'
import {ValidationError} from '../errors.js'

const LABEL = 'age-encryption.org/v1/ssh-ed25519'
// DER wrappers of raw X25519 keys (RFC 8410): PKCS#8 private, SPKI public.
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex')
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex')
const P = 2n ** 255n - 19n

function x25519(scalar: Uint8Array, point: Uint8Array): Buffer {
  return diffieHellman({
    privateKey: createPrivateKey({key: Buffer.concat([PKCS8_X25519, scalar]), format: 'der', type: 'pkcs8'}),
    publicKey: createPublicKey({key: Buffer.concat([SPKI_X25519, point]), format: 'der', type: 'spki'}),
  })
}

function modPow(base: bigint, exp: bigint): bigint {
  let result = 1n
  let b = base % P
  let e = exp
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P
    b = (b * b) % P
    e >>= 1n
  }
  return result
}

/** Ed25519 public key (little-endian y, sign bit on top) to the X25519 u = (1 + y) / (1 - y). */
export function ed25519ToX25519(pk: Uint8Array): Buffer {
  const le = Buffer.from(pk)
  le[31] &= 0x7f
  const y = BigInt(`0x${Buffer.from(le).reverse().toString('hex')}`)
  const u = ((1n + y) * modPow((1n - y + P) % P, P - 2n)) % P
  return Buffer.from(u.toString(16).padStart(64, '0'), 'hex').reverse()
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64').replace(/=+$/, '')

/** The `ssh-ed25519 AAAA… comment` line as an age recipient, or a ValidationError (exit 2). */
export function sshEd25519Recipient(line: string) {
  const [type, blob] = line.trim().split(/\s+/)
  const wire = Buffer.from(blob ?? '', 'base64')
  // The wire format: string "ssh-ed25519", string key (32 bytes).
  const typeLength = wire.length >= 4 ? wire.readUInt32BE(0) : -1
  const keyType = typeLength === 11 ? wire.subarray(4, 15).toString('latin1') : ''
  const keyLength = wire.length >= 19 ? wire.readUInt32BE(15) : -1
  if (type !== 'ssh-ed25519' || keyType !== 'ssh-ed25519' || keyLength !== 32 || wire.length !== 51) {
    throw new ValidationError(
      'Not an ssh-ed25519 public key: give the whole line of the .pub file (ssh-ed25519 AAAA… comment), or an age recipient (age1…).',
    )
  }
  const theirs = ed25519ToX25519(wire.subarray(19, 51))
  const tag = b64(createHash('sha256').update(wire).digest().subarray(0, 4))
  const tweak = Buffer.from(hkdfSync('sha256', Buffer.alloc(0), wire, LABEL, 32))
  return {
    wrapFileKey(fileKey: Uint8Array): Stanza[] {
      const {privateKey, publicKey} = generateKeyPairSync('x25519')
      const ephemeral = privateKey.export({format: 'der', type: 'pkcs8'}).subarray(PKCS8_X25519.length)
      const share = publicKey.export({format: 'der', type: 'spki'}).subarray(SPKI_X25519.length)
      const secret = x25519(tweak, x25519(ephemeral, theirs))
      const wrapKey = Buffer.from(hkdfSync('sha256', secret, Buffer.concat([share, theirs]), LABEL, 32))
      const cipher = createCipheriv('chacha20-poly1305', wrapKey, Buffer.alloc(12), {authTagLength: 16})
      const body = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()])
      return [new Stanza(['ssh-ed25519', tag, b64(share)], body)]
    },
  }
}
