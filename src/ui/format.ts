/**
 * Colour, tables and small formatting helpers. Colour is off when the stream
 * is not a terminal or NO_COLOR is set; tables are plain (tab-separated) when
 * stdout is not a terminal, so pipes get parseable text.
 */
import {Chalk, type ChalkInstance} from 'chalk'
import Table from 'cli-table3'
import {sanitize, terminalSafe} from './sanitize.js'

export function colorEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false
  if (process.env.FORCE_COLOR === '0') return false
  return Boolean(stream.isTTY)
}

export function colors(stream: NodeJS.WriteStream = process.stdout): ChalkInstance {
  return new Chalk({level: colorEnabled(stream) ? 1 : 0})
}

/** `Error: …` for stderr; the message is one line, whatever it quotes. */
export function formatError(message: string): string {
  return `${colors(process.stderr).red('Error:')} ${sanitize(message)}`
}

export function formatWarning(message: string): string {
  return `${colors(process.stderr).yellow('Warning:')} ${sanitize(message)}`
}

/** Write text for a human to a stream: made terminal-safe (see sanitize.ts), then a newline. */
export function writeLine(stream: NodeJS.WriteStream, text: string): void {
  stream.write(`${terminalSafe(text, {color: colorEnabled(stream)})}\n`)
}

/** `2026-11-28 17:34 UTC`, or the fallback for null. */
export function formatDate(iso: string | null | undefined, fallback = 'never'): string {
  if (!iso) return fallback
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`
}

export interface Column<R> {
  header: string
  value: (row: R) => string | number
  align?: 'left' | 'right'
}

/** The header line of tab-separated output. */
export function tsvHeader<R>(columns: Column<R>[]): string {
  return columns.map((c) => c.header).join('\t')
}

/**
 * One row of tab-separated output. Cells come from data: sanitised, so a tab,
 * line break or escape sequence in one shows as `\t`, `\n`, `\x1b` and each
 * cell stays in its column and line.
 */
export function tsvRow<R>(columns: Column<R>[], row: R): string {
  return columns.map((c) => sanitize(c.value(row))).join('\t')
}

/**
 * Render rows as a borderless table fitted to the terminal's width, or as tab-separated lines
 * with a header when stdout is piped. Every cell is sanitised.
 */
export function renderTable<R>(
  rows: R[],
  columns: Column<R>[],
  stream: NodeJS.WriteStream = process.stdout,
): string {
  if (!stream.isTTY) return [tsvHeader(columns), ...rows.map((r) => tsvRow(columns, r))].join('\n')
  const cells = rows.map((r) => columns.map((c) => sanitize(c.value(r))))
  const natural = columns.map((col, i) =>
    Math.max(col.header.length, ...cells.map((row) => displayWidth(row[i]))),
  )
  const minimums = columns.map((col, i) => Math.min(natural[i], col.header.length))
  const widths = fitWidths(natural, minimums, terminalWidth(stream))
  const c = colors(stream)
  // Like gh and heroku: no borders, the header underlined, no lines between rows;
  // cli-table3 cuts a cell wider than its column with '…'.
  const table = new Table({
    head: columns.map((col) => c.bold(col.header)),
    colAligns: columns.map((col) => col.align ?? 'left'),
    colWidths: widths,
    wordWrap: false,
    chars: BORDERLESS,
    style: {head: [], border: [], 'padding-left': 0, 'padding-right': 0},
  })
  table.push(widths.map((w) => '─'.repeat(w)))
  for (const row of cells) table.push(row)
  return table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
}

/** Columns of a terminal table are separated by this many spaces. */
const GAP = 2

const BORDERLESS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: ' '.repeat(GAP),
}

/** The width a table must fit: the terminal's, or 80 when a terminal does not say. */
export function terminalWidth(stream: NodeJS.WriteStream): number {
  return stream.columns && stream.columns > 0 ? stream.columns : 80
}

/** Columns a cell takes on a terminal (one per code point). */
function displayWidth(text: string): number {
  return [...text].length
}

/**
 * Column widths that fit `width`: the widest column gives up one character at
 * a time, never below its header (or its content, when that is narrower).
 */
export function fitWidths(natural: number[], minimums: number[], width: number): number[] {
  const widths = [...natural]
  let total = widths.reduce((a, b) => a + b, 0) + GAP * (widths.length - 1)
  while (total > width) {
    let widest = -1
    for (let i = 0; i < widths.length; i++) {
      if (widths[i] > minimums[i] && (widest < 0 || widths[i] > widths[widest])) widest = i
    }
    if (widest < 0) break
    widths[widest]--
    total--
  }
  return widths
}
