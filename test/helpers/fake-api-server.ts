/**
 * A stand-in for the OpenMemory multi-user API on 127.0.0.1 (port 0) that
 * answers with the real server's replies (server-replies.ts, each citing the
 * server file and line it comes from). It authenticates against a fixed set of
 * keys as the server does (login: 401 "Invalid API key"; Bearer endpoints:
 * 401 "Authentication required", 403 for another scheme), records every
 * request, and serves the success reply chosen per endpoint with `reply`.
 *
 * `set` injects faults that are not the server's own answers but what a
 * client meets anyway: a hang, a proxy's HTML error page, and hostile or
 * malformed bodies (another user, no id, no results, the key echoed back).
 */
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {
  CREATE_REPLIES,
  type CreateReply,
  fill,
  LOGIN_REPLIES,
  SEARCH_REPLIES,
  type SearchReply,
  type ServerReply,
} from './server-replies.js'

export type Misbehaviour =
  | 'error-500'
  | 'hang'
  | 'wrong-user'
  | 'no-id'
  | 'no-results'
  | 'not-json'
  | 'echo-key'

export type Endpoint = 'login' | 'create' | 'search'

export interface RecordedRequest {
  method: string
  url: string
  authorization: string | undefined
  contentType: string | undefined
  body: unknown
}

export interface FakeApiServer {
  url: string
  requests: RecordedRequest[]
  /** Make one endpoint misbehave (or behave again with undefined). */
  set(endpoint: Endpoint, how: Misbehaviour | undefined): void
  /** Which real success reply an endpoint gives (default: create `ok`, search `vectorSearch`). */
  reply(endpoint: 'create', name: CreateReply): void
  reply(endpoint: 'search', name: SearchReply): void
  close(): Promise<void>
}

/** A stable uuid per user_id, standing in for users.id. */
function userUuid(userId: string): string {
  let h = 0
  for (const ch of userId) h = (h * 31 + (ch.codePointAt(0) ?? 0)) >>> 0
  return `00000000-0000-4000-8000-${h.toString(16).padStart(12, '0')}`
}

/** `keys`: API key → user_id the server authenticates it as. */
export async function startFakeApiServer(keys: Record<string, string>): Promise<FakeApiServer> {
  const requests: RecordedRequest[] = []
  const misbehave = new Map<Endpoint, Misbehaviour>()
  let createReply: CreateReply = 'ok'
  let searchReply: SearchReply = 'vectorSearch'

  const server = http.createServer((req, res) => {
    let raw = ''
    req.setEncoding('utf8')
    req.on('data', (c) => {
      raw += c
    })
    req.on('end', () => {
      let body: unknown
      try {
        body = raw === '' ? undefined : JSON.parse(raw)
      } catch {
        body = raw
      }
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body,
      })
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, {'content-type': 'application/json'})
        res.end(JSON.stringify(payload))
      }
      const url = new URL(req.url ?? '/', 'http://x')
      const values = (userId: string): Record<string, string> => ({
        USER_ID: userId,
        USER_UUID: userUuid(userId),
        NAME: userId,
        NOW: '2026-11-28T14:00:00.123456',
        QUERY: url.searchParams.get('query') ?? '',
        TEXT: String((body as {text?: unknown} | undefined)?.text ?? ''),
      })
      const serve = (r: ServerReply, userId = '') => send(r.status, fill(r.body, values(userId)))
      const endpoint: Endpoint | undefined =
        req.method === 'POST' && url.pathname === '/api/v1/auth/login'
          ? 'login'
          : req.method === 'POST' && url.pathname === '/api/v1/memories/'
            ? 'create'
            : req.method === 'POST' && url.pathname === '/api/v1/memories/search'
              ? 'search'
              : undefined
      if (!endpoint) return send(404, {detail: 'Not Found'})
      const how = misbehave.get(endpoint)
      if (how === 'hang') return // never answers
      if (how === 'not-json') {
        res.writeHead(502, {'content-type': 'text/html'})
        return res.end('<html><body>502 Bad Gateway</body></html>')
      }
      if (how === 'error-500') {
        if (endpoint === 'create') return serve(CREATE_REPLIES.failed)
        if (endpoint === 'search') return serve(SEARCH_REPLIES.failed)
        // An uncaught exception in login: Starlette's ServerErrorMiddleware answers plain text.
        res.writeHead(500, {'content-type': 'text/plain; charset=utf-8'})
        return res.end('Internal Server Error')
      }

      if (endpoint === 'login') {
        const key = (body as {api_key?: unknown} | undefined)?.api_key
        if (typeof key !== 'string') return serve(LOGIN_REPLIES.missingKey)
        const userId = keys[key]
        if (!userId) {
          if (how === 'echo-key') return send(401, {detail: `Invalid API key ${key}`})
          return serve(LOGIN_REPLIES.invalidKey)
        }
        if (how === 'echo-key') return send(401, {detail: `Invalid API key ${key}`})
        return serve(LOGIN_REPLIES.ok, how === 'wrong-user' ? 'somebody_else' : userId)
      }
      const auth = req.headers.authorization
      if (auth !== undefined && !auth.startsWith('Bearer ')) return serve(CREATE_REPLIES.wrongScheme)
      const userId = keys[(auth ?? '').slice(7)]
      if (!userId)
        return serve(endpoint === 'create' ? CREATE_REPLIES.unauthenticated : SEARCH_REPLIES.unauthenticated)
      if (endpoint === 'create') {
        if (how === 'no-id') return send(200, {message: 'No memory added'})
        return serve(CREATE_REPLIES[createReply], userId)
      }
      if (!url.searchParams.get('query')) return serve(SEARCH_REPLIES.missingQuery)
      if (how === 'no-results') return send(200, {items: []})
      return serve(SEARCH_REPLIES[searchReply], userId)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    set(endpoint, how) {
      if (how) misbehave.set(endpoint, how)
      else misbehave.delete(endpoint)
    },
    reply(endpoint: 'create' | 'search', name: string) {
      if (endpoint === 'create') createReply = name as CreateReply
      else searchReply = name as SearchReply
    },
    close() {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

/** A URL on 127.0.0.1 where nothing listens (a port just released). */
export async function unusedUrl(): Promise<string> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return `http://127.0.0.1:${port}`
}
