/**
 * Output formats written by PostgreSQL, for listings streamed with COPY
 * (db/copy.ts): each builder gives the SQL of one row's text exactly as the
 * row path (ui/listing.ts) writes it from the same row in Node, so both paths
 * print the same bytes (test/commands/listing-paths.test.ts runs both on
 * hostile data and compares them).
 *
 * - `jsonPretty`: the row as `JSON.stringify(row, null, 2)` prints it as an
 *   element of an array (every line after the first indented by `indent`).
 * - `jsonLine`: the row as `JSON.stringify(row)` prints it.
 * Strings go through `to_json`, whose escapes are JSON.stringify's (`\"`,
 * `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other controls as lowercase `\u00xx`);
 * what JSON.stringify leaves raw and the tool escapes (`jsonSafe`) is escaped
 * by Node on the bytes, in both paths.
 */
import {type SQL, sql} from 'drizzle-orm'

export type JsonKind = 'text' | 'number' | 'boolean' | 'text[]'

/** One property of a listing's JSON object: its name, its value in SQL, and its JSON type. */
export interface JsonField {
  key: string
  value: SQL
  kind: JsonKind
}

/** A string as an SQL literal that means the same whatever standard_conforming_strings says: E'…'. */
export function quoteText(text: string): string {
  return `E'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`
}

/** quoteText as a piece of a drizzle statement. */
export function textLiteral(text: string): SQL {
  return sql.raw(quoteText(text))
}

function scalar(f: JsonField): SQL {
  return f.kind === 'text'
    ? sql`coalesce(to_json((${f.value})::text)::text, 'null')`
    : f.kind === 'number'
      ? sql`coalesce(((${f.value})::bigint)::text, 'null')`
      : sql`coalesce(to_json((${f.value})::boolean)::text, 'null')`
}

function prettyValue(f: JsonField, indent: string): SQL {
  if (f.kind !== 'text[]') return scalar(f)
  // ["a", "b"] as JSON.stringify(…, null, 2) prints it one level down; [] when empty.
  const item = `,\n${indent}    `
  return sql`case when (${f.value}) is null then 'null' when cardinality(${f.value}) = 0 then '[]'
    else ${textLiteral(`[\n${indent}    `)} || array_to_string(array(
      select to_json(e.v)::text from unnest(${f.value}) with ordinality as e(v, n) order by e.n),
      ${textLiteral(item)}) || ${textLiteral(`\n${indent}  ]`)} end`
}

/** The row as JSON.stringify(row, null, 2) prints it, every line after the first indented by `indent`. */
export function jsonPretty(fields: JsonField[], indent: string): SQL {
  const parts: SQL[] = [textLiteral('{')]
  fields.forEach((f, i) => {
    const lead = `${i === 0 ? '' : ','}\n${indent}  ${JSON.stringify(f.key)}: `
    parts.push(textLiteral(lead), prettyValue(f, indent))
  })
  parts.push(textLiteral(fields.length === 0 ? '}' : `\n${indent}}`))
  return sql.join(parts, sql` || `)
}

/** The row as JSON.stringify(row) prints it. */
export function jsonLine(fields: JsonField[]): SQL {
  const parts: SQL[] = []
  fields.forEach((f, i) => {
    const lead = `${i === 0 ? '{' : ','}${JSON.stringify(f.key)}:`
    const value = f.kind === 'text[]' ? sql`coalesce(array_to_json(${f.value})::text, 'null')` : scalar(f)
    parts.push(textLiteral(lead), value)
  })
  parts.push(textLiteral(fields.length === 0 ? '{}' : '}'))
  return sql.join(parts, sql` || `)
}

/** A CSV cell as csv-stringify writes it from PostgreSQL's CSV: an empty string unquoted, like NULL. */
export function csvCell(value: SQL): SQL {
  return sql`nullif(${value}, '')`
}

/** `formatDate` (ui/format.ts) of an ISO text: `2026-01-02 03:04 UTC`, or `fallback` when null. */
export function shownDate(iso: SQL, fallback: string): SQL {
  return sql`coalesce(replace(left(${iso}, 16), 'T', ' ') || ' UTC', ${textLiteral(fallback)})`
}
