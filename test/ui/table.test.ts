/**
 * Tables on a terminal: borderless, header underlined, no row separators,
 * fitted to the terminal's width (COLUMNS when set, 80 when nothing says) by
 * wrapping free text and leaving out ranked columns, never by cutting; pipes
 * keep tab-separated text.
 */
import {afterEach, describe, expect, it} from 'vitest'
import {renderTable, tableLayout, wrapText} from '../../src/ui/format.js'

const tty = (columns?: number) => ({isTTY: true, columns}) as unknown as NodeJS.WriteStream
const pipe = {isTTY: false} as unknown as NodeJS.WriteStream
/** What the terminal shows: without the colour codes (bold header). */
const plain = (s: string) => s.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '')

interface Row {
  userId: string
  name: string
  email: string
  memories: number
}
const rows: Row[] = Array.from({length: 6}, (_, i) => ({
  userId: `user_${i}`,
  name: `A rather long display name number ${i}`,
  email: `someone.with.a.long.address.${i}@subdomain.example.com`,
  memories: i * 1000,
}))
const columns = [
  {header: 'USER ID', value: (r: Row) => r.userId},
  {header: 'NAME', value: (r: Row) => r.name},
  {header: 'EMAIL', value: (r: Row) => r.email},
  {header: 'MEMORIES', value: (r: Row) => r.memories, align: 'right' as const},
]

afterEach(() => {
  delete process.env.COLUMNS
})

describe('renderTable', () => {
  it('fits an 80-column terminal (the default when the width is unknown) by wrapping, cutting nothing', () => {
    const out = plain(renderTable(rows, columns, tty(undefined)))
    const lines = out.split('\n')
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(80)
    expect(lines[0]).toMatch(/^USER ID {2,}NAME {2,}EMAIL {2,}MEMORIES$/)
    expect(lines[1]).toMatch(/^─+ {2}─+ {2}─+ {2}─+$/)
    expect(out).not.toContain('…')
    expect(out).not.toMatch(/[│┌┐└┘├┤┬┴┼]/)
    // Each row takes more than one line; its text is all there, in its column.
    expect(lines[2]).toMatch(/^user_0 {2,}A rather long[a-z ]* {2,}someone\S* +0$/)
    const emailColumn = lines[0].indexOf('EMAIL')
    const nameColumn = lines[0].indexOf('NAME')
    const row0 = lines.slice(
      2,
      lines.findIndex((l, i) => i > 2 && l.startsWith('user_1')),
    )
    expect(row0.map((l) => l.slice(emailColumn).split(' ')[0]).join('')).toBe(rows[0].email)
    expect(
      row0
        .map((l) => l.slice(nameColumn, emailColumn).trim())
        .join(' ')
        .trim(),
    ).toBe(rows[0].name)
    expect(out).toMatch(/ 5000$/m) // numbers stay whole and right-aligned
  })

  it('uses the terminal width when known, and wraps nothing that fits', () => {
    const wide = plain(renderTable(rows, columns, tty(200))).split('\n')
    expect(wide).toHaveLength(2 + rows.length)
    expect(wide[2]).toContain('someone.with.a.long.address.0@subdomain.example.com')
    const narrow = plain(renderTable(rows, columns, tty(60))).split('\n')
    for (const line of narrow) expect([...line].length).toBeLessThanOrEqual(60)
  })

  it('COLUMNS wins over the terminal, narrower or wider', () => {
    process.env.COLUMNS = '50'
    for (const line of plain(renderTable(rows, columns, tty(200))).split('\n'))
      expect([...line].length).toBeLessThanOrEqual(50)
    process.env.COLUMNS = '200'
    expect(plain(renderTable(rows, columns, tty(40))).split('\n')).toHaveLength(2 + rows.length)
  })

  it('leaves out ranked columns, lowest rank first, and names them, before wrapping a date', () => {
    const dated = rows.map((r) => ({...r, created: '2026-12-04 02:36 UTC'}))
    const cols = [
      ...columns.slice(0, 3),
      {header: 'MEMORIES', value: (r: Row) => r.memories, align: 'right' as const, drop: 2},
      {header: 'CREATED', value: (r: {created: string}) => r.created, fixed: true, drop: 1},
    ]
    const out = plain(renderTable(dated, cols, tty(60)))
    expect(out.split('\n')[0]).toMatch(/^USER ID +NAME +EMAIL +MEMORIES$/)
    expect(out).not.toContain('2026-12')
    expect(out).toContain('Not shown at 60 columns: CREATED (')
    const narrower = plain(renderTable(dated, cols, tty(40)))
    expect(narrower.split('\n')[0]).toMatch(/^USER ID +NAME +EMAIL$/)
    expect(narrower).toMatch(/Not shown at 40 columns: MEMORIES,\s+CREATED \(/)
    const wider = plain(renderTable(dated, cols, tty(140)))
    expect(wider).toMatch(/2026-12-04 02:36 UTC$/m)
    expect(wider).not.toContain('Not shown')
  })

  it('keeps tab-separated text with a header in a pipe, uncut', () => {
    const lines = renderTable(rows, columns, pipe).split('\n')
    expect(lines[0]).toBe('USER ID\tNAME\tEMAIL\tMEMORIES')
    expect(lines[1]).toBe(`user_0\t${rows[0].name}\t${rows[0].email}\t0`)
  })
})

describe('tableLayout', () => {
  const col = (natural: number, more: {fixed?: boolean; min?: number; drop?: number} = {}) => ({
    natural,
    header: 4,
    fixed: false,
    ...more,
  })
  it('keeps natural widths that fit, narrows free text first, then leaves out by rank', () => {
    expect(tableLayout([col(10), col(10)], 30)).toEqual([10, 10])
    expect(tableLayout([col(30), col(20, {fixed: true})], 40)).toEqual([18, 20])
    expect(tableLayout([col(30), col(20, {fixed: true, drop: 1})], 30)).toEqual([30, null])
  })
  it('never exceeds the width, whatever it is given', () => {
    for (const width of [1, 5, 13, 40]) {
      const layout = tableLayout([col(50, {fixed: true}), col(30), col(9, {fixed: true})], width)
      const shown = layout.filter((w): w is number => w !== null)
      expect(shown.reduce((a, b) => a + b, 0) + 2 * (shown.length - 1)).toBeLessThanOrEqual(
        Math.max(width, 3 * 1 + 4),
      )
    }
  })
})

describe('wrapText', () => {
  it('wraps long lines at spaces, continuation under the value; short lines untouched', () => {
    const text = `Target:      ${'word '.repeat(30).trim()}\nshort line`
    const out = wrapText(text, 40).split('\n')
    for (const line of out) expect([...line].length).toBeLessThanOrEqual(40)
    expect(out[0].startsWith('Target:      word')).toBe(true)
    expect(out[1]).toMatch(/^ {13}word/)
    expect(out.at(-1)).toBe('short line')
    expect(out.join(' ').replace(/\s+/g, ' ')).toBe(text.replace(/\n/, ' ').replace(/\s+/g, ' '))
  })
  it('indents after a list mark, and breaks a word only when it is wider than the line', () => {
    const out = wrapText(`  - ${'x'.repeat(50)} tail`, 20).split('\n')
    for (const line of out) expect([...line].length).toBeLessThanOrEqual(20)
    expect(out[0]).toBe(`  - ${'x'.repeat(16)}`)
    expect(out[1]).toBe(`    ${'x'.repeat(16)}`)
    expect(out.at(-1)).toBe('    xx tail')
  })
})
