/**
 * COPY through the driver (db/copy.ts), against the real server: parameters
 * written into the statement as literals read back exactly; binary tuples
 * framed across chunk boundaries; the connection usable after a COPY read by
 * a slow consumer (postgres.js 3.4.9 left its socket paused when the stream
 * ended full, porsager/postgres#1016) and after one left early (cancelled).
 */
import {setTimeout as delay} from 'node:timers/promises'
import {sql} from 'drizzle-orm'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/client.js'
import {tupleBatches} from '../../src/db/copy.js'
import {rows} from '../../src/db/sql.js'
import {createTestDatabase, type TestDatabase} from '../helpers/databases.js'

/** Every tuple's fields as text (null for NULL). */
async function texts(chunks: AsyncIterable<Buffer>): Promise<(string | null)[][]> {
  const out: (string | null)[][] = []
  for await (const {bytes, cells, count} of tupleBatches(chunks)) {
    let k = 0
    for (let t = 0; t < count; t++) {
      const row: (string | null)[] = []
      const n = cells[k++] as number
      for (let i = 0; i < n; i++, k += 2) {
        row.push(cells[k] === -1 ? null : bytes.toString('utf8', cells[k], cells[k + 1]))
      }
      out.push(row)
    }
  }
  return out
}

/** `promise`, or a rejection after `ms`. */
function bounded<T>(ms: number, promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    delay(ms).then(() => {
      throw new Error(`still waiting after ${ms} ms`)
    }),
  ])
}

describe('COPY (statement) TO STDOUT through postgres.js', () => {
  let td: TestDatabase
  let database: Database
  beforeAll(async () => {
    td = await createTestDatabase('postgres')
    database = await td.open()
  })
  afterAll(async () => {
    await database?.close()
    await td?.drop()
  })

  it('writes parameters in as literals that read back exactly', async () => {
    const values = ["it's", 'back\\slash', "\\'; select 1; --", "E'x'", '漢字 🎉', '$1 $2', 'line\nbreak']
    const query = sql.join(
      values.map((v, i) => sql`select ${i} as i, ${v}::text as v, ${i * 1.5} as f`),
      sql` union all `,
    )
    let text = ''
    for await (const chunk of database.copy(sql`select * from (${query}) q order by i`, 'csv')) text += chunk
    const direct = await rows<{i: number; v: string}>(database.db, sql`select * from (${query}) q order by i`)
    expect(direct.map((r) => r.v)).toEqual(values)
    expect(text.startsWith("i,v,f\n0,it's,0\n")).toBe(true)
    const got = await texts(database.copy(sql`select v from (${query}) q order by i`, 'binary'))
    expect(got.map((t) => t[0])).toEqual(values)
  })

  it('frames binary tuples whatever the chunks (NULLs, empty strings, one byte at a time)', async () => {
    const statement = sql`select case when g % 3 = 0 then null else repeat('é', g % 5) end as a, g::text as b
                          from generate_series(1, 50) g`
    const whole: Buffer[] = []
    for await (const chunk of database.copy(statement, 'binary')) whole.push(Buffer.from(chunk))
    const bytes = Buffer.concat(whole)
    async function* oneByOne() {
      for (let i = 0; i < bytes.length; i++) yield bytes.subarray(i, i + 1)
    }
    const got = await texts(oneByOne())
    expect(
      await texts(
        (async function* () {
          yield bytes
        })(),
      ),
    ).toEqual(got)
    expect(got).toHaveLength(50)
    expect(got[2]).toEqual([null, '3'])
    expect(got[4]).toEqual(['', '5'])
    expect(got[6]).toEqual(['éé', '7'])
    async function* cut() {
      yield bytes.subarray(0, bytes.length - 1)
    }
    await expect(texts(cut())).rejects.toThrow(/ended early/)
  })

  it('leaves the connection usable after a slow consumer read COPYs of many sizes', async () => {
    for (const n of [9_000, 17_000, 26_000, 35_000, 44_000, 53_000, 62_000, 71_000]) {
      let bytes = 0
      for await (const chunk of database.copy(
        sql`select repeat('x', 20) from generate_series(1, ${n})`,
        'csv',
      )) {
        bytes += chunk.length
        await delay(1)
      }
      expect(bytes).toBe(21 * n + 'repeat\n'.length)
      const [row] = await bounded(5000, rows<{n: number}>(database.db, sql`select ${n}::int as n`))
      expect(row?.n).toBe(n)
    }
  })

  it('cancels a COPY left early, and the connection goes on', async () => {
    let left = 0
    // A cross join streams its first rows at once and would run for minutes.
    for await (const _ of database.copy(
      sql`select repeat('y', 100) from pg_class a, pg_class b, pg_class c`,
      'csv',
    )) {
      left = Date.now()
      break
    }
    expect(Date.now() - left).toBeLessThan(2500)
    const [row] = await bounded(5000, rows<{ok: number}>(database.db, sql`select 1 as ok`))
    expect(row?.ok).toBe(1)
  })
})
