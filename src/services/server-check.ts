/**
 * `users test`: does a user's key work, end to end? First the database (the
 * key belongs to that user and is active, read-only), then the server's own
 * API the way the server guide tests it with curl: log in, create a memory,
 * search. Stops at the first failure. The key is never part of any result or
 * message: every detail taken from a response is scrubbed of it.
 */
import type {Db} from '../db/client.js'
import {maskUrl} from '../db/client.js'
import {ValidationError} from '../errors.js'
import {checkKey} from './auth.js'
import {fingerprint, hashKey} from './keys.js'
import {getUser} from './users.js'

export type StepId = 'key' | 'login' | 'create-memory' | 'search'
export type StepStatus = 'passed' | 'failed' | 'skipped'

export interface TestStep {
  step: StepId
  /** `database`, or the request as `POST /api/v1/…`. */
  request: string
  status: StepStatus
  /** The HTTP status answered, or null (database step, no answer, skipped). */
  httpStatus: number | null
  /** How long the step took, or null when skipped. */
  durationMs: number | null
  /** What was found: why it failed, why it was skipped, or what passed. */
  detail: string
}

export type TestOutcome = 'passed' | 'failed' | 'unreachable'

export interface UsersTestResult {
  userId: string
  /** The API base URL, any password masked. */
  apiUrl: string
  keyFingerprint: string
  outcome: TestOutcome
  /** The step that failed (or could not reach the server), else null. */
  failedStep: StepId | null
  steps: TestStep[]
}

export interface ServerCheckInput {
  userId: string
  key: string
  apiUrl: string
  /** Create a memory (step create-memory); false skips it. */
  write: boolean
  timeoutMs: number
}

/** The outside world the HTTP steps use, injected so tests are exact. */
export interface ServerCheckDeps {
  fetch: typeof fetch
  /** A monotonic clock in milliseconds (durations). */
  clock: () => number
  /** Wall-clock time (the text of the test memory). */
  now: () => Date
}

export const DEFAULT_TIMEOUT_SECONDS = 10

export const ENDPOINTS = {
  login: '/api/v1/auth/login',
  createMemory: '/api/v1/memories/',
  search: '/api/v1/memories/search',
} as const

export const SEARCH_QUERY = 'openmemory users test'

/** The most of a reply body read; a longer one fails its step with "reply too large". */
export const REPLY_MAX_BYTES = 1024 * 1024
/** The most of a server's own words quoted in a step's detail (after scrubbing). */
export const DETAIL_MAX = 200

/**
 * A function that removes the key from text, however a server echoes it:
 * as is, in any letter case (upper-cased included), base64-encoded at any
 * alignment (standard and URL-safe alphabets) and percent-encoded. Applied
 * to whole texts before anything cuts them, so a cut cannot leave a piece
 * of the key behind.
 */
export function keyScrubber(key: string): (text: string) => string {
  if (key === '') return (text) => text
  const forms = new Set<string>([key, encodeURIComponent(key)])
  const bytes = Buffer.from(key, 'utf8')
  for (const shift of [0, 1, 2]) {
    // The key's bytes after `shift` other bytes: the base64 characters that depend only on the
    // key are those of the whole 3-byte groups after the first (or all of them at shift 0).
    const b64 = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64')
    const whole = Math.floor((shift + bytes.length) / 3) * 4
    const core = b64.slice(shift === 0 ? 0 : 4, whole)
    if (core.length >= 8 || (shift === 0 && core.length > 0)) {
      forms.add(core)
      forms.add(core.replace(/\+/g, '-').replace(/\//g, '_'))
    }
  }
  const pattern = new RegExp(
    [...forms]
      .sort((a, b) => b.length - a.length)
      .map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('|'),
    'gi',
  )
  return (text) => text.replace(pattern, '***')
}

/** At most `max` characters (whole code points), with an ellipsis when cut. */
export function clip(text: string, max = DETAIL_MAX): string {
  const chars = [...text]
  return chars.length > max ? `${chars.slice(0, max).join('')}…` : text
}

/** The body of a reply, read up to `max` bytes; null when it is longer (the rest is not read). */
export async function readBody(response: Response, max = REPLY_MAX_BYTES): Promise<string | null> {
  const declared = Number(response.headers.get('content-length'))
  if (Number.isFinite(declared) && declared > max) {
    await response.body?.cancel().catch(() => {})
    return null
  }
  if (!response.body) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const {done, value} = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      await reader.cancel().catch(() => {})
      return null
    }
    chunks.push(value)
  }
  return new TextDecoder().decode(Buffer.concat(chunks))
}

export function defaultServerCheckDeps(): ServerCheckDeps {
  return {fetch: globalThis.fetch, clock: () => performance.now(), now: () => new Date()}
}

/** Validate the API base URL: http(s), no credentials. Returns it without trailing slashes. */
export function parseApiUrl(value: string): string {
  let url: URL
  try {
    url = new URL(value.trim())
  } catch {
    throw new ValidationError(`--api-url must be an http:// or https:// URL (got ${maskUrl(value)}).`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ValidationError(`--api-url must be an http:// or https:// URL (got ${maskUrl(value)}).`)
  }
  if (url.username || url.password) {
    throw new ValidationError('--api-url must not carry a user name or password.')
  }
  url.search = ''
  url.hash = ''
  return url.toString().replace(/\/+$/, '')
}

const STEP_REQUESTS: Record<StepId, string> = {
  key: 'database',
  login: `POST ${ENDPOINTS.login}`,
  'create-memory': `POST ${ENDPOINTS.createMemory}`,
  search: `POST ${ENDPOINTS.search}`,
}

function skipped(step: StepId, detail: string): TestStep {
  return {step, request: STEP_REQUESTS[step], status: 'skipped', httpStatus: null, durationMs: null, detail}
}

/**
 * The whole test: the database step first; a failure there stops before any
 * request. Throws UserNotFoundError (exit 3) for an unknown userId.
 */
export async function testUser(
  db: Db,
  input: ServerCheckInput,
  deps: ServerCheckDeps = defaultServerCheckDeps(),
): Promise<UsersTestResult> {
  const apiUrl = parseApiUrl(input.apiUrl)
  await getUser(db, input.userId)
  const started = deps.clock()
  const check = await checkKey(db, input.key)
  const durationMs = Math.round(deps.clock() - started)
  let keyStep: TestStep
  if (check.valid && check.userId === input.userId) {
    keyStep = {
      step: 'key',
      request: 'database',
      status: 'passed',
      httpStatus: null,
      durationMs,
      detail: `key ${check.keyFingerprint} is active and belongs to ${input.userId}`,
    }
  } else {
    const why =
      check.reason === 'unknown'
        ? `no API key with fingerprint ${check.keyFingerprint} is stored: check the key, or rotate it`
        : check.userId !== input.userId
          ? `the key belongs to user '${check.userId}', not '${input.userId}'`
          : `the key ${check.keyFingerprint} of ${input.userId} is revoked (inactive)`
    keyStep = {step: 'key', request: 'database', status: 'failed', httpStatus: null, durationMs, detail: why}
  }
  if (keyStep.status === 'failed') {
    return {
      userId: input.userId,
      apiUrl,
      keyFingerprint: fingerprint(hashKey(input.key)),
      outcome: 'failed',
      failedStep: 'key',
      steps: [
        keyStep,
        skipped('login', 'not run: the database step failed'),
        skipped('create-memory', input.write ? 'not run: the database step failed' : 'skipped (--no-write)'),
        skipped('search', 'not run: the database step failed'),
      ],
    }
  }
  const server = await checkServer({...input, apiUrl}, deps)
  return {...server, steps: [keyStep, ...server.steps]}
}

interface Answer {
  status: number
  body: unknown
  text: string
}

type Attempt =
  | {ok: true; answer: Answer; durationMs: number}
  | {ok: false; reason: string; durationMs: number; status?: number}

/**
 * The HTTP steps alone: login, create a memory (unless `write` is false),
 * search. Stops at the first failure; the server counts as unreachable when
 * a request gets no answer at all and no earlier request got one.
 */
export async function checkServer(
  input: ServerCheckInput,
  deps: ServerCheckDeps = defaultServerCheckDeps(),
): Promise<UsersTestResult> {
  const apiUrl = parseApiUrl(input.apiUrl)
  const scrub = keyScrubber(input.key)
  const steps: TestStep[] = []
  let answered = false

  const send = async (path: string, init: {headers?: Record<string, string>; body: unknown}) => {
    const started = deps.clock()
    const elapsed = () => Math.round(deps.clock() - started)
    try {
      const response = await deps.fetch(`${apiUrl}${path}`, {
        method: 'POST',
        headers: {'content-type': 'application/json', accept: 'application/json', ...init.headers},
        body: JSON.stringify(init.body),
        redirect: 'manual',
        signal: AbortSignal.timeout(input.timeoutMs),
      })
      const raw = await readBody(response)
      answered = true
      if (raw === null) {
        return {
          ok: false,
          reason: `answered ${response.status} with a reply too large (over ${REPLY_MAX_BYTES / 1024 / 1024} MiB); not read`,
          durationMs: elapsed(),
          status: response.status,
        } as Attempt
      }
      // Scrubbed before anything else reads it; details built from it are scrubbed again
      // (a JSON string can spell the key with \u escapes) before they are cut.
      const text = scrub(raw)
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch {
        body = undefined
      }
      return {ok: true, answer: {status: response.status, body, text}, durationMs: elapsed()} as Attempt
    } catch (error) {
      return {ok: false, reason: networkReason(error, input.timeoutMs), durationMs: elapsed()} as Attempt
    }
  }

  const result = (outcome: TestOutcome, failedStep: StepId | null): UsersTestResult => ({
    userId: input.userId,
    apiUrl,
    keyFingerprint: fingerprint(hashKey(input.key)),
    outcome,
    failedStep,
    steps,
  })

  type Judge = (answer: Answer) => {ok: true; detail: string} | {ok: false; detail: string}
  const run = async (
    step: StepId,
    path: string,
    init: {headers?: Record<string, string>; body: unknown},
    judge: Judge,
  ): Promise<TestOutcome | null> => {
    const wasAnswered = answered
    const attempt = await send(path, init)
    if (!attempt.ok) {
      steps.push({
        step,
        request: STEP_REQUESTS[step],
        status: 'failed',
        httpStatus: attempt.status ?? null,
        durationMs: attempt.durationMs,
        detail: clip(scrub(attempt.reason), DETAIL_MAX * 2),
      })
      return wasAnswered || attempt.status !== undefined ? 'failed' : 'unreachable'
    }
    const verdict = judge(attempt.answer)
    steps.push({
      step,
      request: STEP_REQUESTS[step],
      status: verdict.ok ? 'passed' : 'failed',
      httpStatus: attempt.answer.status,
      durationMs: attempt.durationMs,
      detail: clip(scrub(verdict.detail), DETAIL_MAX * 2),
    })
    return verdict.ok ? null : 'failed'
  }

  const bearer = {authorization: `Bearer ${input.key}`}
  const plan: {step: StepId; go: () => Promise<TestOutcome | null>}[] = [
    {
      step: 'login',
      go: () =>
        run('login', ENDPOINTS.login, {body: {api_key: input.key}}, (a) => {
          if (a.status !== 200) return {ok: false, detail: unexpectedStatus(a, scrub)}
          const userId = field(a.body, 'user_id')
          if (userId === undefined) return {ok: false, detail: 'answered 200 without a user_id'}
          if (userId !== input.userId)
            return {ok: false, detail: `logged in as '${clip(scrub(String(userId)))}', not '${input.userId}'`}
          return {ok: true, detail: `logged in as ${input.userId}`}
        }),
    },
    {
      step: 'create-memory',
      go: () => {
        const text = `openmemory users test: connectivity check for ${input.userId} at ${deps.now().toISOString()}`
        return run('create-memory', ENDPOINTS.createMemory, {headers: bearer, body: {text}}, (a) => {
          if (a.status !== 200) return {ok: false, detail: unexpectedStatus(a, scrub)}
          const id = field(a.body, 'id')
          if (id === undefined || id === null || id === '')
            return {ok: false, detail: 'answered 200 without a memory id'}
          return {ok: true, detail: `created memory ${clip(scrub(String(id)))}`}
        })
      },
    },
    {
      step: 'search',
      go: () =>
        run(
          'search',
          `${ENDPOINTS.search}?query=${encodeURIComponent(SEARCH_QUERY)}`,
          {headers: bearer, body: {}},
          (a) => {
            if (a.status !== 200) return {ok: false, detail: unexpectedStatus(a, scrub)}
            const results = searchResults(a.body)
            if (!results) return {ok: false, detail: 'answered 200 without a results list'}
            const method = field(a.body, 'method')
            const message = field(a.body, 'message')
            const how =
              typeof method === 'string'
                ? ` (${clip(scrub(method))})`
                : typeof message === 'string'
                  ? ` (${clip(scrub(message))})`
                  : ''
            return {ok: true, detail: `${results.length} result${results.length === 1 ? '' : 's'}${how}`}
          },
        ),
    },
  ]

  for (const [i, {step, go}] of plan.entries()) {
    if (step === 'create-memory' && !input.write) {
      steps.push(skipped(step, 'skipped (--no-write)'))
      continue
    }
    const outcome = await go()
    if (outcome) {
      for (const rest of plan.slice(i + 1)) {
        steps.push(
          skipped(
            rest.step,
            rest.step === 'create-memory' && !input.write
              ? 'skipped (--no-write)'
              : `not run: the ${step} step failed`,
          ),
        )
      }
      return result(outcome, step)
    }
  }
  return result('passed', null)
}

/**
 * The hits of a search reply, in any shape the server gives
 * (api/app/routers/memories.py): mem0's dict passed through under `results`
 * when the vector store works (`{query, results: {results: [...]}, method:
 * "vector_search"}`), a flat list from the SQL fallback (`{query, results:
 * [...], method: "database_search"}`), or mem0's dict as is (`{results:
 * [...]}`, earlier servers). Undefined when there is no list.
 */
export function searchResults(body: unknown): unknown[] | undefined {
  const results = field(body, 'results')
  if (Array.isArray(results)) return results
  const nested = field(results, 'results')
  return Array.isArray(nested) ? nested : undefined
}

function field(body: unknown, name: string): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined
  return (body as Record<string, unknown>)[name]
}

/** `answered 401: Invalid API key` — the server's `detail` when it gives one, else the start of the body. */
function unexpectedStatus(a: Answer, scrub: (text: string) => string): string {
  const detail = field(a.body, 'detail')
  const said =
    typeof detail === 'string'
      ? detail
      : (validationDetail(detail) ??
        (detail !== undefined ? JSON.stringify(detail) : a.text.replace(/\s+/g, ' ').trim()))
  const hint =
    a.status === 401 || a.status === 403
      ? ' (the server does not accept this key)'
      : a.status >= 500
        ? ' (server error: see the server logs)'
        : a.status === 404
          ? ' (no such endpoint: is --api-url the OpenMemory API?)'
          : ''
  // Scrub first, then cut: a cut must never leave the start of an echoed key behind.
  const text = clip(scrub(said))
  return `expected 200, answered ${a.status}${hint}${text ? `: ${text}` : ''}`
}

/** FastAPI's 422 `detail` list, as `body.api_key: Field required; …`, or undefined for any other shape. */
function validationDetail(detail: unknown): string | undefined {
  if (!Array.isArray(detail) || detail.length === 0) return undefined
  const parts = detail.map((d) => {
    const loc = field(d, 'loc')
    const msg = field(d, 'msg')
    if (typeof msg !== 'string') return undefined
    return Array.isArray(loc) ? `${loc.map(String).join('.')}: ${msg}` : msg
  })
  return parts.every((p) => p !== undefined) ? parts.join('; ') : undefined
}

function networkReason(error: unknown, timeoutMs: number): string {
  const e = error as {name?: string; message?: string; cause?: {code?: string; message?: string}}
  if (e.name === 'TimeoutError' || e.name === 'AbortError') {
    return `no answer within ${formatSeconds(timeoutMs)} (--timeout)`
  }
  const code = e.cause?.code
  if (e.cause?.message === 'bad port')
    return 'fetch refuses to connect to this port (a blocked port): choose another'
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused: is the server running, and are the host and port right?'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve: check --api-url'
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'the connection was closed before an answer'
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connection timed out: check the host, port and firewall'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'the host is unreachable: check the network'
    default:
      return `the request failed (${code ?? e.cause?.message ?? e.message ?? 'unknown error'})`
  }
}

function formatSeconds(ms: number): string {
  const s = ms / 1000
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`
}
