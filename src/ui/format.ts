/**
 * Colour, tables and small formatting helpers. Colour is off when the stream
 * is not a terminal or NO_COLOR is set; tables are plain (tab-separated) when
 * stdout is not a terminal, so pipes get parseable text.
 */
import {Chalk, type ChalkInstance} from 'chalk'
import Table from 'cli-table3'
import stringWidth from 'string-width'
import wrapAnsi from 'wrap-ansi'
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
  stream.write(`${fitToStream(terminalSafe(text, {color: colorEnabled(stream)}), stream)}\n`)
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
  /**
   * A value that is read whole (a date, a count, a fingerprint): never wrapped
   * while the table can fit another way. Right-aligned columns are fixed.
   * Other columns wrap onto more lines, at spaces where they can.
   */
  fixed?: boolean
  /** The narrowest a wrapping column gets before a column is left out (default: its header, at least 8). */
  min?: number
  /** Left out, lowest rank first, when the table cannot fit otherwise; unranked columns always show. */
  drop?: number
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
 * Render rows as a borderless table fitted to the terminal's width, or as
 * tab-separated lines with a header when stdout is piped. Every cell is
 * sanitised. To fit, free-text columns wrap (at spaces where they can), then
 * columns with a drop rank are left out (named in a last line), and only then
 * do dates and counts wrap: nothing is cut.
 */
export function renderTable<R>(
  rows: R[],
  columns: Column<R>[],
  stream: NodeJS.WriteStream = process.stdout,
): string {
  if (!stream.isTTY) return [tsvHeader(columns), ...rows.map((r) => tsvRow(columns, r))].join('\n')
  const cells = rows.map((r) => columns.map((c) => sanitize(c.value(r))))
  const width = terminalWidth(stream)
  const layout = tableLayout(
    columns.map((col, i) => ({
      natural: Math.max(col.header.length, ...cells.map((row) => displayWidth(row[i]))),
      header: col.header.length,
      fixed: col.fixed ?? col.align === 'right',
      min: col.min,
      drop: col.drop,
    })),
    width,
  )
  const shown = layout.flatMap((w, i) => (w === null ? [] : [{col: columns[i], i, w}]))
  const c = colors(stream)
  // Like gh and heroku: no borders, the header underlined, no lines between rows.
  const table = new Table({
    head: shown.map(({col, w}) => c.bold(wrapCell(col.header, w))),
    colAligns: shown.map(({col}) => col.align ?? 'left'),
    colWidths: shown.map(({w}) => w),
    wordWrap: false,
    chars: BORDERLESS,
    style: {head: [], border: [], 'padding-left': 0, 'padding-right': 0},
  })
  table.push(shown.map(({w}) => '─'.repeat(w)))
  for (const row of cells) table.push(shown.map(({i, w}) => wrapCell(row[i], w)))
  const lines = table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
  const hidden = columns.filter((_, i) => layout[i] === null).map((col) => col.header)
  if (hidden.length > 0) {
    lines.push(
      c.dim(
        wrapText(`Not shown at ${width} columns: ${hidden.join(', ')} (a wider terminal shows them).`, width),
      ),
    )
  }
  return lines.join('\n')
}

/** A cell's text in lines no wider than its column: at spaces where it can, mid-word only when a word is wider. */
function wrapCell(text: string, width: number): string {
  return displayWidth(text) <= width ? text : wrapAnsi(text, width, {hard: true, trim: true})
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

/**
 * The width human output fits: COLUMNS when set (even when the terminal is
 * wider), else the terminal's, else 80.
 */
export function terminalWidth(stream: NodeJS.WriteStream): number {
  const columns = Number(process.env.COLUMNS)
  if (Number.isInteger(columns) && columns > 0) return columns
  return stream.columns && stream.columns > 0 ? stream.columns : 80
}

/** Columns a text takes on a terminal (wide characters count two; colour codes none). */
export function displayWidth(text: string): number {
  return stringWidth(text)
}

export interface ColumnFit {
  /** The widest cell or header. */
  natural: number
  /** The header's width. */
  header: number
  fixed: boolean
  min?: number
  drop?: number
}

/** Free text wraps to this before a column is left out. */
const COMFORTABLE = 16

/**
 * Each column's width, or null for a column left out. In order, until the
 * row fits `width`: free-text columns narrow to a comfortable width (the
 * widest first); columns are left out by drop rank (and the others widen
 * again); free text narrows to its minimum; then every column narrows, down
 * to one character, so a line never exceeds the width.
 */
export function tableLayout(columns: ColumnFit[], width: number): (number | null)[] {
  const least = columns.map((c) =>
    c.fixed ? c.natural : Math.min(c.natural, c.min ?? Math.max(c.header, 8)),
  )
  const comfortable = columns.map((c, i) =>
    c.fixed ? c.natural : Math.max(least[i], Math.min(c.natural, COMFORTABLE)),
  )
  const ranked = columns
    .map((c, i) => ({i, rank: c.drop}))
    .filter((x): x is {i: number; rank: number} => x.rank !== undefined)
    .sort((a, b) => a.rank - b.rank)
    .map((x) => x.i)
  const shown = columns.map((_, i) => i)
  const attempt = (floors: number[]) => {
    const widths = fitWidths(
      shown.map((i) => columns[i].natural),
      shown.map((i) => floors[i]),
      width,
    )
    const layout: (number | null)[] = columns.map(() => null)
    shown.forEach((i, k) => {
      layout[i] = widths[k]
    })
    return {layout, fits: widths.reduce((a, b) => a + b, 0) + GAP * (widths.length - 1) <= width}
  }
  for (;;) {
    const first = attempt(comfortable)
    if (first.fits) return first.layout
    const next = ranked.find((i) => shown.includes(i))
    if (next === undefined) break
    shown.splice(shown.indexOf(next), 1)
  }
  const narrow = attempt(least)
  if (narrow.fits) return narrow.layout
  return attempt(columns.map(() => 1)).layout
}

/**
 * Human text fitted to a width: each line longer than it wraps at spaces, its
 * continuation lines indented under where the line's value starts: after a
 * gap of two or more spaces in its first half (`label:   value`, `ok   3
 * checks…`), after a `- ` item mark or a short `Label: `, else at the line's
 * own indent. Lines that fit are left alone.
 */
export function wrapText(text: string, width: number): string {
  return text
    .split('\n')
    .map((line) => {
      if (displayWidth(line) <= width) return line
      const prefix = hangingPrefix(line, width)
      const indent = displayWidth(prefix)
      return wrapAnsi(line.slice(prefix.length), width - indent, {hard: true, trim: true})
        .split('\n')
        .map((part, k) => (k === 0 ? prefix : ' '.repeat(indent)) + part)
        .join('\n')
    })
    .join('\n')
}

/** Where a wrapped line's value starts (see wrapText): at most half the width in. */
function hangingPrefix(line: string, width: number): string {
  const half = width / 2
  let gap = ''
  for (const match of line.matchAll(/\S {2,}/g)) {
    const end = match.index + match[0].length
    if (displayWidth(line.slice(0, end)) > half) break
    gap = line.slice(0, end)
  }
  if (gap) return gap
  const mark = /^\s*(?:- |[A-Za-z][\w -]{0,15}: (?=\S))|^\s+/.exec(line)?.[0] ?? ''
  return displayWidth(mark) <= half ? mark : ''
}

/** Text for a stream: fitted to its width when it is a terminal (wrapText), unchanged in a pipe. */
export function fitToStream(text: string, stream: NodeJS.WriteStream): string {
  return stream.isTTY ? wrapText(text, terminalWidth(stream)) : text
}

/**
 * Column widths that fit `width`: the widest column gives up one character at
 * a time, never below its floor.
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
