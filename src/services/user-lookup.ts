/**
 * Naming an existing user: by the exact stored string, and when there is no
 * such user, the close matches an operator probably meant (case-insensitive
 * edit distance), so `Bob.smith` leads to `Bob.Smith`.
 */
import {inArray, sql} from 'drizzle-orm'
import {distance} from 'fastest-levenshtein'
import type {Db} from '../db/client.js'
import {users} from '../db/schema.js'
import {UserNotFoundError} from '../errors.js'

/** How many close matches an error names. */
export const CLOSE_MATCHES = 3
/** Rows of similar length compared per lookup: bounds the work on a huge table (error path only). */
const CANDIDATE_ROWS = 5000

/** Edits allowed for a match: 1 for short ids, up to 3 for long ones. */
function maxEdits(id: string): number {
  return Math.max(1, Math.min(3, Math.floor([...id].length / 3)))
}

/** Edit distance where swapping two neighbouring characters (`alcie` for `alice`) is one typo, not two. */
export function typoDistance(a: string, b: string): number {
  const d = distance(a, b)
  if (d !== 2 || a.length !== b.length) return d
  const diff: number[] = []
  for (let i = 0; i < a.length && diff.length <= 2; i++) if (a[i] !== b[i]) diff.push(i)
  const [i, j] = diff
  return diff.length === 2 && j === (i as number) + 1 && a[i as number] === b[j] && a[j] === b[i as number]
    ? 1
    : d
}

/**
 * Existing userIds close to `userId`: equal but for case first, then by edit
 * distance (compared lowercased; a swap of neighbours counts once), at most
 * `limit`. Two bounded queries.
 */
export async function closeUserIds(db: Db, userId: string, limit = CLOSE_MATCHES): Promise<string[]> {
  const wanted = userId.toLowerCase()
  const edits = maxEdits(userId)
  const n = [...userId].length
  const sameButCase = await db
    .select({userId: users.userId})
    .from(users)
    .where(sql`lower(${users.userId}) = ${wanted}`)
    .limit(limit)
  const similarLength = await db
    .select({userId: users.userId})
    .from(users)
    .where(sql`char_length(${users.userId}) between ${n - edits} and ${n + edits}`)
    .limit(CANDIDATE_ROWS)
  const scored = new Map<string, number>()
  for (const {userId: id} of [...sameButCase, ...similarLength]) {
    if (id === userId || scored.has(id)) continue
    const d = typoDistance(wanted, id.toLowerCase())
    if (d <= edits) scored.set(id, d)
  }
  return [...scored.entries()]
    .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, limit)
    .map(([id]) => id)
}

/** The not-found error for `userId` (exit 3), naming the close matches. */
export async function userNotFound(db: Db, userId: string): Promise<UserNotFoundError> {
  return new UserNotFoundError(userId, await closeUserIds(db, userId))
}

/**
 * The stored userId each reference names, in order: the exact stored string
 * when there is one, otherwise the escaped spelling human output shows
 * (`bad\x07id` for an id holding a control character, see unescapeShown),
 * else the not-found error for the first that names no one (exit 3): a
 * mistyped `--exclude Admin` must not leave `admin` unprotected. One query.
 */
export async function resolveUserRefs(db: Db, refs: readonly string[]): Promise<string[]> {
  if (refs.length === 0) return []
  const {unescapeShown} = await import('../ui/sanitize.js')
  // No stored id holds a NUL byte (PostgreSQL cannot store one): such a reading names no one.
  const shown = (r: string) => {
    const u = unescapeShown(r)
    return u.includes('\u0000') ? r : u
  }
  const wanted = [...new Set(refs.flatMap((r) => [r, shown(r)]))]
  const found = await db.select({userId: users.userId}).from(users).where(inArray(users.userId, wanted))
  const have = new Set(found.map((r) => r.userId))
  return Promise.all(
    refs.map(async (ref) => {
      if (have.has(ref)) return ref
      const unescaped = shown(ref)
      if (have.has(unescaped)) return unescaped
      throw await userNotFound(db, ref)
    }),
  )
}

/** Every id names an existing user (exactly or by its shown spelling), else exit 3 for the first that does not. */
export async function requireUsers(db: Db, userIds: readonly string[]): Promise<void> {
  await resolveUserRefs(db, userIds)
}
