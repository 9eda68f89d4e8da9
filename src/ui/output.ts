/**
 * The one output path: where a result line, a note, a warning and a secret
 * go. The base command builds it from --json and the streams (under --json
 * both streams carry JSON only); the interactive menu builds it from its
 * session. Flows and key delivery write through it and nothing else.
 */
export interface Output {
  /** Under --json: no human text on either stream, JSON lines only. */
  readonly json: boolean
  /** A result line for a human (stdout); nothing under --json. */
  log(text: string): void
  /** Progress and notes (stderr); nothing under --json. */
  note(text: string): void
  /** A warning (stderr): "Warning: …" for a human, a JSON line under --json. */
  warn(text: string): void
  /** A secret shown once (a new key): stdout for a human, never under --json. */
  secret(text: string): void
}
