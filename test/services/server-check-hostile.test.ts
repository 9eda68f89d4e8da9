/**
 * `users test` against a hostile server: one that echoes the key back in its
 * error detail (as is, upper-cased, base64-encoded, \u-escaped) at every
 * offset from 0 to 300, answers with escape sequences, or sends a body far
 * larger than any real reply. This is not the real server (which never echoes
 * a key; see test/helpers/server-replies.ts for its replies): it is what a
 * misconfigured proxy or a malicious endpoint behind --api-url could do.
 */
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {
  checkServer,
  keyScrubber,
  REPLY_MAX_BYTES,
  type ServerCheckDeps,
  type ServerCheckInput,
} from '../../src/services/server-check.js'
import {formatStep} from '../../src/ui/checks.js'

const KEY = 'mem_lab_k7q2m9x4v1n8b5c3z6l0p2w4r7t9y1u3'
const RANDOM = KEY.slice('mem_lab_'.length)

type Reply = {status: number; body: string | Buffer; headers?: Record<string, string>; chunks?: number}
let next: Reply = {status: 200, body: '{}'}

function deps(): ServerCheckDeps {
  return {fetch: globalThis.fetch, clock: () => performance.now(), now: () => new Date()}
}

/** Every run of 12 characters of the key's random part: none may be shown. */
function expectNoPartOfKey(text: string) {
  expect(text).not.toContain(KEY)
  expect(text.toLowerCase()).not.toContain(KEY.toLowerCase())
  for (let i = 0; i + 12 <= RANDOM.length; i++) {
    expect(text.toLowerCase()).not.toContain(RANDOM.slice(i, i + 12))
  }
  for (const shift of [0, 1, 2]) {
    const b64 = Buffer.concat([Buffer.alloc(shift, 0x20), Buffer.from(KEY)]).toString('base64')
    // The part of the encoding that depends on the key alone (whole groups after the first).
    const core = b64.slice(4, Math.floor((shift + KEY.length) / 3) * 4)
    expect(text).not.toContain(core)
    expect(text).not.toContain(core.replace(/\+/g, '-').replace(/\//g, '_'))
  }
}

describe('users test against a hostile server', () => {
  let server: http.Server
  let url: string
  const input = (): ServerCheckInput => ({
    userId: 'charlie',
    key: KEY,
    apiUrl: url,
    write: true,
    timeoutMs: 5000,
  })

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        const {status, body, headers, chunks} = next
        res.writeHead(status, {'content-type': 'application/json', ...headers})
        if (!chunks) return res.end(body)
        // A large body in pieces, without content-length; stop when the client goes away.
        let sent = 0
        const piece = Buffer.alloc(64 * 1024, 'a')
        const write = () => {
          while (sent < chunks) {
            sent++
            if (!res.write(piece)) return res.once('drain', write)
          }
          res.end()
        }
        res.on('close', () => {
          sent = chunks
        })
        write()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  const forms: [string, (key: string) => string][] = [
    ['as is', (k) => k],
    ['upper-cased', (k) => k.toUpperCase()],
    ['base64', (k) => Buffer.from(k).toString('base64')],
    ['base64 inside "Bearer KEY"', (k) => Buffer.from(`Bearer ${k}`).toString('base64')],
    ['base64 inside "x-KEY"', (k) => Buffer.from(`x-${k}`).toString('base64url')],
    ['\\u-escaped in JSON', (k) => k],
  ]

  for (const [name, encode] of forms) {
    it(`never shows the key echoed ${name} at any offset from 0 to 300`, async () => {
      for (let offset = 0; offset <= 300; offset++) {
        const detail = `${'x'.repeat(offset)}${encode(KEY)} trailing words`
        const body =
          name === '\\u-escaped in JSON'
            ? `{"detail": "${'x'.repeat(offset)}${[...KEY].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"}`
            : JSON.stringify({detail})
        next = {status: 401, body}
        const r = await checkServer(input(), deps())
        expect(r.outcome).toBe('failed')
        expect(r.steps[0].detail).toMatch(/^expected 200, answered 401/)
        const shown = JSON.stringify(r) + r.steps.map(formatStep).join('\n')
        expectNoPartOfKey(shown)
      }
    })
  }

  it('scrubs the key in any letter case, and base64 at every alignment', () => {
    const scrub = keyScrubber(KEY)
    expect(scrub(`a ${KEY} b ${KEY.toUpperCase()} c`)).toBe('a *** b *** c')
    for (const prefix of ['', 'x', 'xy', 'Bearer ']) {
      const encoded = Buffer.from(`${prefix}${KEY}`).toString('base64')
      expect(scrub(encoded)).toContain('***')
      expectNoPartOfKey(scrub(encoded))
    }
  })

  it('shows escape sequences in a reply escaped, and keeps them exact in the result', async () => {
    next = {status: 500, body: JSON.stringify({detail: 'boom \u001b]0;pwned\u0007\u001b[2J\u202e'})}
    const r = await checkServer(input(), deps())
    expect(r.steps[0].detail).toContain('\u001b]0;pwned')
    const line = formatStep(r.steps[0])
    expect(line).not.toContain('\u001b]')
    expect(line).not.toContain('\u202e')
    expect(line).toContain('\\x1b]0;pwned\\x07\\x1b[2J\\u202e')
  })

  it(`fails the step with "reply too large" past ${REPLY_MAX_BYTES} bytes, streamed without a length`, async () => {
    next = {status: 200, body: '', chunks: 50 * 16} // 50 MiB in 64 KiB pieces
    const r = await checkServer(input(), deps())
    expect(r.outcome).toBe('failed')
    expect(r.failedStep).toBe('login')
    expect(r.steps[0]).toMatchObject({status: 'failed', httpStatus: 200})
    expect(r.steps[0].detail).toContain('reply too large')
  })

  it('fails the step with "reply too large" when the declared length is too large', async () => {
    const big = Buffer.alloc(REPLY_MAX_BYTES + 1, 'a')
    next = {status: 401, body: big}
    const r = await checkServer(input(), deps())
    expect(r.outcome).toBe('failed')
    expect(r.steps[0].detail).toContain('reply too large')
  })

  it('reads a reply of exactly the limit', async () => {
    const pad = 'a'.repeat(REPLY_MAX_BYTES - JSON.stringify({detail: ''}).length)
    next = {status: 401, body: JSON.stringify({detail: pad})}
    const r = await checkServer(input(), deps())
    expect(r.steps[0].detail).toMatch(/^expected 200, answered 401 .*: a+…$/)
  })
})
