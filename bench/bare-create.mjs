#!/usr/bin/env node
/**
 * The baseline of bench/startup.ts: bare Node + postgres.js creating a user
 * the way the guide's snippet does, the same three inserts (user, hashed key,
 * `default` app) in one transaction, and printing the key.
 *
 *   DATABASE_URL=postgres://… node bench/bare-create.mjs <userId>
 */
import {createHash, randomBytes, randomUUID} from 'node:crypto'
import postgres from 'postgres'

const userId = process.argv[2]
const sql = postgres(process.env.DATABASE_URL, {max: 1, onnotice: () => {}})
const key = `mem_lab_${randomBytes(24).toString('hex').slice(0, 32)}`
const id = randomUUID()
await sql.begin(async (tx) => {
  await tx`insert into users (id, user_id, name, created_at, updated_at) values (${id}, ${userId}, ${userId}, now(), now())`
  await tx`insert into api_keys (id, user_id, key_hash, created_at, is_active)
           values (${randomUUID()}, ${id}, ${createHash('sha256').update(key).digest('hex')}, now(), true)`
  await tx`insert into apps (id, owner_id, name, is_active, created_at, updated_at)
           values (${randomUUID()}, ${id}, 'default', true, now(), now())`
})
await sql.end()
console.log(JSON.stringify({userId, apiKey: key}))
