/**
 * "Did you mean …?" for mistyped commands and flags: the closest known name
 * by edit distance (fastest-levenshtein), if it is close enough to be a typo.
 */
import {distance as editDistance} from 'fastest-levenshtein'

/** The candidate closest to `typed`, or undefined when none is plausibly meant. */
export function closest(typed: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of candidates) {
    const distance = editDistance(typed, candidate)
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  // A typo changes a few characters, not most of the word.
  const allowed = Math.max(2, Math.floor(typed.length / 3))
  return bestDistance <= allowed ? best : undefined
}

/**
 * The command or topic (words joined by spaces) closest to what was typed. A
 * command of N words is compared with the first N typed words, so the
 * remaining words (arguments) do not count against it: `user create bob`
 * suggests `users create`. A topic takes no arguments, so it is a candidate
 * only when no more words were typed than it has: `users craete` suggests
 * `users create`, not `users`.
 */
export function closestCommand(
  typedWords: readonly string[],
  commandIds: readonly string[],
  topicIds: readonly string[] = [],
): string | undefined {
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  const candidates = [
    ...commandIds.map((id) => ({id, topic: false})),
    ...topicIds.map((id) => ({id, topic: true})),
  ]
  for (const {id, topic} of candidates) {
    const words = id.split(' ')
    if (topic && typedWords.length > words.length) continue
    const typed = typedWords.slice(0, words.length).join(' ')
    if (typed === '') continue
    const distance = editDistance(typed, id)
    const allowed = Math.max(2, Math.floor(typed.length / 3))
    if (distance <= allowed && distance < bestDistance) {
      best = id
      bestDistance = distance
    }
  }
  return best
}
