/**
 * A stand-in for the OpenMemory multi-user API on 127.0.0.1 (port 0), with
 * exactly the documented request and response shapes of the endpoints
 * `users test` uses. It authenticates against a fixed set of keys, records
 * every request, and can be told to misbehave per endpoint.
 */
import {randomUUID} from 'node:crypto'
import http from 'node:http'
import type {AddressInfo} from 'node:net'

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
  close(): Promise<void>
}

/** `keys`: API key → user_id the server authenticates it as. */
export async function startFakeApiServer(keys: Record<string, string>): Promise<FakeApiServer> {
  const requests: RecordedRequest[] = []
  const misbehave = new Map<Endpoint, Misbehaviour>()

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
      if (how === 'error-500') return send(500, {detail: 'Internal Server Error'})
      if (how === 'not-json') {
        res.writeHead(502, {'content-type': 'text/html'})
        return res.end('<html><body>502 Bad Gateway</body></html>')
      }

      if (endpoint === 'login') {
        const key = (body as {api_key?: unknown} | undefined)?.api_key
        if (typeof key !== 'string')
          return send(422, {detail: [{loc: ['body', 'api_key'], msg: 'Field required'}]})
        const userId = keys[key]
        if (!userId) return send(401, {detail: 'Invalid API key'})
        if (how === 'echo-key') return send(401, {detail: `Invalid API key ${key}`})
        return send(200, {
          user_id: how === 'wrong-user' ? 'somebody_else' : userId,
          name: userId,
          message: 'Login successful',
        })
      }
      const auth = req.headers.authorization ?? ''
      const bearer = auth.startsWith('Bearer ') ? auth.slice(7) : ''
      const userId = keys[bearer]
      if (!userId) return send(401, {detail: 'Invalid API key'})
      if (endpoint === 'create') {
        const text = (body as {text?: unknown} | undefined)?.text
        if (typeof text !== 'string' || text === '')
          return send(422, {detail: [{loc: ['body', 'text'], msg: 'Field required'}]})
        if (how === 'no-id') return send(200, {message: 'No memory added'})
        return send(200, {id: randomUUID(), content: text, user_id: userId, state: 'active'})
      }
      const query = url.searchParams.get('query')
      if (!query) return send(422, {detail: [{loc: ['query', 'query'], msg: 'Field required'}]})
      if (how === 'no-results') return send(200, {items: []})
      return send(200, {results: [{id: randomUUID(), memory: 'remember this', score: 0.9}]})
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
