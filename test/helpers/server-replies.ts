/**
 * What the real OpenMemory multi-user server answers on the endpoints
 * `users test` calls, written from its source (repository
 * zinohome/openmemory-multiuser, folder api/; file, line and commit cited on
 * each reply). The fake API server (fake-api-server.ts) serves these, and the
 * tests replay every one of them in turn.
 *
 * `{USER_ID}`, `{USER_UUID}`, `{NAME}`, `{QUERY}` and `{NOW}` are filled in by
 * the fake with the authenticated user and the request.
 */

export interface ServerReply {
  /** Where the server builds this reply: file:lines @commit. */
  source: string
  status: number
  body: unknown
}

const MEMORY_ID = '0f9c5f38-3a55-4d9e-9a51-1c2b7f0e6a11'
const APP_ID = '6b0e3c1e-8f7d-4f3a-9d2b-5e1a7c9d0b22'

// ---------------------------------------------------------------------------
// POST /api/v1/auth/login {"api_key": KEY}

export const LOGIN_REPLIES = {
  ok: {
    source: 'api/app/routers/auth.py:64-77 @af5cf74e (LoginResponse, lines 25-29)',
    status: 200,
    body: {success: true, user_id: '{USER_ID}', name: '{NAME}', message: 'Login successful'},
  },
  invalidKey: {
    source: 'api/app/routers/auth.py:69-70 @af5cf74e',
    status: 401,
    body: {detail: 'Invalid API key'},
  },
  /** FastAPI's request validation (pydantic v2) when the body lacks api_key (LoginRequest, line 21-22). */
  missingKey: {
    source: 'api/app/routers/auth.py:21-22 @af5cf74e (FastAPI 422 RequestValidationError)',
    status: 422,
    body: {detail: [{type: 'missing', loc: ['body', 'api_key'], msg: 'Field required', input: {}}]},
  },
} satisfies Record<string, ServerReply>

// ---------------------------------------------------------------------------
// POST /api/v1/memories/ {"text": …} (Bearer KEY)

export const CREATE_REPLIES = {
  /** The current router: MemoryResponse with metadata, updated_at and the user. */
  ok: {
    source: 'api/app/routers/memories.py:114-130 @65edc725',
    status: 200,
    body: {
      id: MEMORY_ID,
      content: '{TEXT}',
      user_id: '{USER_UUID}',
      app_id: APP_ID,
      metadata: {},
      state: 'active',
      created_at: '{NOW}',
      updated_at: '{NOW}',
      user: {id: '{USER_UUID}', user_id: '{USER_ID}', name: '{NAME}'},
    },
  },
  /** The earlier router: MemoryResponse without metadata or updated_at. */
  okEarlier: {
    source: 'api/app/routers/memories.py:102-109 @dde75990',
    status: 200,
    body: {
      id: MEMORY_ID,
      content: '{TEXT}',
      user_id: '{USER_UUID}',
      app_id: APP_ID,
      created_at: '{NOW}',
      state: 'active',
      user: null,
    },
  },
  /** require_user: a key that authenticates nobody. */
  unauthenticated: {
    source: 'api/app/auth.py:67-73 @541f4739',
    status: 401,
    body: {detail: 'Authentication required'},
  },
  /** APIKeyAuth: an Authorization header that is not Bearer. */
  wrongScheme: {
    source: 'api/app/auth.py:21-23 @541f4739',
    status: 403,
    body: {detail: 'Invalid authentication scheme'},
  },
  failed: {
    source: 'api/app/routers/memories.py:132-135 @65edc725',
    status: 500,
    body: {
      detail:
        'Failed to create memory: (psycopg2.OperationalError) server closed the connection unexpectedly',
    },
  },
} satisfies Record<string, ServerReply>

// ---------------------------------------------------------------------------
// POST /api/v1/memories/search?query=… (Bearer KEY)

/** One hit as mem0's Memory.search returns it (mem0 1.x: id, memory, hash, metadata, score, dates, user_id). */
const MEM0_HIT = {
  id: MEMORY_ID,
  memory: 'openmemory users test: connectivity check',
  hash: '5d41402abc4b2a76b9719d911017c592',
  metadata: {app_id: APP_ID},
  score: 0.83,
  created_at: '2026-11-28T14:00:00.000000-05:00',
  updated_at: null,
  user_id: '{USER_ID}',
}

export const SEARCH_REPLIES = {
  /** Vector store up: mem0's own dict passed through under `results`. */
  vectorSearch: {
    source: 'api/app/routers/memories.py:468-480 @65edc725',
    status: 200,
    body: {query: '{QUERY}', results: {results: [MEM0_HIT]}, method: 'vector_search'},
  },
  /** Vector store down: the SQL fallback, a flat list. */
  databaseSearch: {
    source: 'api/app/routers/memories.py:484-506 @65edc725',
    status: 200,
    body: {
      query: '{QUERY}',
      results: [
        {
          id: MEMORY_ID,
          memory: 'openmemory users test: connectivity check',
          content: 'openmemory users test: connectivity check',
          created_at: '{NOW}',
          metadata: {},
          score: 0.5,
        },
      ],
      method: 'database_search',
    },
  },
  /** The earlier router returns mem0's dict as is. */
  mem0Plain: {
    source: 'api/app/routers/memories.py:252-258 @dde75990',
    status: 200,
    body: {results: [MEM0_HIT]},
  },
  /** The earlier router without a memory client. */
  notAvailable: {
    source: 'api/app/routers/memories.py:249-250 @dde75990',
    status: 200,
    body: {results: [], message: 'Search not available'},
  },
  unauthenticated: {
    source: 'api/app/auth.py:67-73 @541f4739',
    status: 401,
    body: {detail: 'Authentication required'},
  },
  /** `query` is a required query parameter (line 459): FastAPI 422 without it. */
  missingQuery: {
    source: 'api/app/routers/memories.py:457-463 @65edc725 (FastAPI 422 RequestValidationError)',
    status: 422,
    body: {detail: [{type: 'missing', loc: ['query', 'query'], msg: 'Field required', input: null}]},
  },
  failed: {
    source: 'api/app/routers/memories.py:508-510 @65edc725',
    status: 500,
    body: {detail: 'Failed to search memories: connection to server was lost'},
  },
} satisfies Record<string, ServerReply>

export type LoginReply = keyof typeof LOGIN_REPLIES
export type CreateReply = keyof typeof CREATE_REPLIES
export type SearchReply = keyof typeof SEARCH_REPLIES

/** The replies that are a success (status 200), by endpoint. */
export const SUCCESS_REPLIES = {
  create: ['ok', 'okEarlier'] as CreateReply[],
  search: ['vectorSearch', 'databaseSearch', 'mem0Plain', 'notAvailable'] as SearchReply[],
}

/** The reply body with its placeholders filled in. */
export function fill(body: unknown, values: Record<string, string>): unknown {
  return JSON.parse(
    JSON.stringify(body).replace(/\{([A-Z_]+)\}/g, (m, k: string) =>
      values[k] === undefined ? m : JSON.stringify(values[k]).slice(1, -1),
    ),
  )
}
