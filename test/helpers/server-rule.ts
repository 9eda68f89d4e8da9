/**
 * The server's authentication rule, written independently of the tool's code:
 * hash the presented key (SHA-256, lowercase hex) and look for an active
 * api_keys row with that hash. Returns the user_id it authenticates as.
 */
import {createHash} from 'node:crypto'
import {sql} from 'drizzle-orm'
import type {Database} from '../../src/db/client.js'
import {rows} from '../../src/db/sql.js'

export async function serverAuthenticates(database: Database, key: string): Promise<string | null> {
  const hash = createHash('sha256').update(key).digest('hex')
  const found = await rows<{user_id: string}>(
    database.db,
    sql`
    select u.user_id from api_keys k join users u on u.id = k.user_id
    where k.key_hash = ${hash} and k.is_active`,
  )
  return found[0]?.user_id ?? null
}

export async function count(database: Database, table: string): Promise<number> {
  const found = await rows<{n: number}>(database.db, sql.raw(`select count(*)::int as n from ${table}`))
  return Number(found[0].n)
}
