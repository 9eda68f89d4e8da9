/**
 * The output sanitiser. Every string that comes from the database, a server
 * reply or the operator's own input is hostile: an escape sequence in a name
 * could retitle the terminal, clear it, move the cursor and forge a line, or
 * plant a hyperlink; a bidi control could reorder what is shown. Nothing of
 * that reaches a terminal, a pipe or a log raw: such characters are shown as
 * visible escapes (`\x1b`, `\u202e`, `\n`), on a terminal and in pipes alike.
 *
 * - `sanitize(value)`: for a value from data (a cell, a name in a message).
 *   Everything unsafe is escaped, line breaks and tabs included, so a value
 *   stays on its line and in its column.
 * - `terminalSafe(text)`: the last line of defence on every human-facing
 *   write (the base command's log paths, prompts, errors). It keeps the line
 *   breaks of the message and, when colour is on, the colour codes this tool
 *   emits itself; anything else unsafe is escaped.
 * - `jsonText(value)`: JSON output, exact (it parses back to the same
 *   strings), with the characters JSON.stringify leaves raw (DEL, C1, bidi
 *   controls, U+2028/U+2029, invisible characters) written as `\u` escapes.
 *
 * Invisible characters (zero-width, joiners, BOM, fillers, variation
 * selectors, tags: Unicode's default-ignorable code points) are escaped too,
 * so two ids that differ only by one never look the same.
 */

/** Bidi controls (they reorder what a terminal shows) and the line and paragraph separators. */
const BIDI_AND_SEPARATORS = '\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069'
/**
 * Invisible characters: Unicode's default-ignorable code points (zero-width
 * space and joiners U+200B-U+200D, word joiner U+2060, BOM U+FEFF, soft
 * hyphen, Hangul fillers, variation selectors, tag characters...), so
 * `alice` and `alice` + U+200B never look the same.
 */
const INVISIBLE = '\\p{Default_Ignorable_Code_Point}'
/** Every C0 and C1 control character, DEL, and the above. */
const UNSAFE = new RegExp(`[\\u0000-\\u001f\\u007f-\\u009f${BIDI_AND_SEPARATORS}${INVISIBLE}]`, 'gu')
/** As UNSAFE, but line breaks (\\n) and tabs are kept: for whole messages. */
const UNSAFE_IN_TEXT = new RegExp(
  `[\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f${BIDI_AND_SEPARATORS}${INVISIBLE}]`,
  'gu',
)
/** What JSON.stringify leaves raw that a terminal would act on or not show. */
const UNSAFE_IN_JSON = new RegExp(`[\\u007f-\\u009f${BIDI_AND_SEPARATORS}${INVISIBLE}]`, 'gu')
/**
 * The colour and style codes chalk writes at level 1 for what this tool uses
 * (bold, dim, red, green, yellow and their resets): nothing else is let through.
 */
const ESC = '\\u001b'
const OWN_SGR = new RegExp(`${ESC}\\[(?:0|1|2|22|3[0-7]|39|9[0-7])m`, 'y')

const NAMED: Record<string, string> = {'\n': '\\n', '\r': '\\r', '\t': '\\t'}

/** One character as a visible escape: `\n`, `\x1b`, `\u202e` (beyond U+FFFF: its two `\u` halves). */
export function escapeChar(ch: string): string {
  const named = NAMED[ch]
  if (named) return named
  const code = ch.charCodeAt(0)
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`
  let out = ''
  for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`
  return out
}

const NAMED_BACK: Record<string, string> = {n: '\n', r: '\r', t: '\t'}

/**
 * The inverse of `escapeChar` over a whole text: `\n`, `\r`, `\t`, `\xHH` and
 * `\uHHHH` back to their characters, everything else as it is. How an id that
 * human output showed escaped is typed back (user-lookup.ts: an exact stored
 * match wins first, so an id that really holds a backslash is still found).
 */
export function unescapeShown(text: string): string {
  return text.replace(/\\(?:([nrt])|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4}))/g, (_, named, x2, u4) =>
    named ? (NAMED_BACK[named] as string) : String.fromCharCode(Number.parseInt(x2 ?? u4, 16)),
  )
}

/** Does the text hold anything `sanitize` would escape? */
export function hasUnsafe(value: string): boolean {
  UNSAFE.lastIndex = 0
  return UNSAFE.test(value)
}

/** A value from data, made safe to show: every control, line break and bidi control escaped. */
export function sanitize(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return ''
  return String(value).replace(UNSAFE, escapeChar)
}

/**
 * Text about to be written for a human: line breaks and tabs stay, and with
 * `color` the tool's own colour codes stay; every other control or bidi
 * character is escaped.
 */
export function terminalSafe(text: string, opts: {color?: boolean} = {}): string {
  if (!opts.color) return text.replace(UNSAFE_IN_TEXT, escapeChar)
  let out = ''
  let last = 0
  UNSAFE_IN_TEXT.lastIndex = 0
  for (let m = UNSAFE_IN_TEXT.exec(text); m !== null; m = UNSAFE_IN_TEXT.exec(text)) {
    out += text.slice(last, m.index)
    OWN_SGR.lastIndex = m.index
    const sgr = m[0] === '\u001b' ? OWN_SGR.exec(text) : null
    if (sgr) {
      out += sgr[0]
      UNSAFE_IN_TEXT.lastIndex = m.index + sgr[0].length
    } else out += escapeChar(m[0])
    last = UNSAFE_IN_TEXT.lastIndex
  }
  return out + text.slice(last)
}

/** Escape, in already serialised JSON, what JSON.stringify leaves raw (it stays valid, exact JSON). */
export function jsonSafe(serialised: string): string {
  return serialised.replace(UNSAFE_IN_JSON, (ch) => {
    let out = ''
    for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`
    return out
  })
}

/** A value as JSON text for output: exact, and nothing raw a terminal would act on. */
export function jsonText(value: unknown, indent = 2): string {
  return jsonSafe(JSON.stringify(value, null, indent))
}
