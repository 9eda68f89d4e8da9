/**
 * Tables on a terminal: borderless, header underlined, no row separators,
 * cut with … to the terminal's width (80 when it does not say); pipes keep
 * tab-separated text.
 */
import {describe, expect, it} from 'vitest'
import {renderTable} from '../../src/ui/format.js'

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

describe('renderTable', () => {
  it('fits an 80-column terminal (the default when the width is unknown), cutting with …', () => {
    const out = plain(renderTable(rows, columns, tty(undefined)))
    const lines = out.split('\n')
    expect(lines).toHaveLength(2 + rows.length) // header, underline, one line per row: no separators
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(80)
    expect(lines[0]).toMatch(/^USER ID {2,}NAME {2,}EMAIL {2,}MEMORIES$/)
    expect(lines[1]).toMatch(/^─+ {2}─+ {2}─+ {2}─+$/)
    expect(out).toContain('…')
    expect(out).not.toMatch(/[│┌┐└┘├┤┬┴┼]/)
    expect(lines[2]).toMatch(/^user_0 {2,}A rather.*… {2,}someone.*… +0$/)
    expect(lines.at(-1)).toMatch(/5000$/) // numbers stay whole and right-aligned
  })

  it('uses the terminal width when known, and cuts nothing that fits', () => {
    const wide = plain(renderTable(rows, columns, tty(200))).split('\n')
    expect(wide.join('\n')).not.toContain('…')
    expect(wide[2]).toContain('someone.with.a.long.address.0@subdomain.example.com')
    const narrow = plain(renderTable(rows, columns, tty(60))).split('\n')
    for (const line of narrow) expect([...line].length).toBeLessThanOrEqual(60)
  })

  it('keeps tab-separated text with a header in a pipe, uncut', () => {
    const lines = renderTable(rows, columns, pipe).split('\n')
    expect(lines[0]).toBe('USER ID\tNAME\tEMAIL\tMEMORIES')
    expect(lines[1]).toBe(`user_0\t${rows[0].name}\t${rows[0].email}\t0`)
  })
})
