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
 * Render rows as a cli-table3 table on a terminal, or as tab-separated lines
 * with a header when stdout is piped. Every cell is sanitised.
 */
export function renderTable<R>(
  rows: R[],
  columns: Column<R>[],
  stream: NodeJS.WriteStream = process.stdout,
): string {
  if (!stream.isTTY) return [tsvHeader(columns), ...rows.map((r) => tsvRow(columns, r))].join('\n')
  const cells = rows.map((r) => columns.map((c) => sanitize(c.value(r))))
  const c = colors(stream)
  const table = new Table({
    head: columns.map((col) => c.bold(col.header)),
    colAligns: columns.map((col) => col.align ?? 'left'),
    style: {head: [], border: []},
  })
  for (const row of cells) table.push(row)
  return table.toString()
}
