import {randomUUID} from 'node:crypto'
import {sql} from 'drizzle-orm'
import type {Database} from '../../src/db/client.js'
import {rows} from '../../src/db/sql.js'

/** Insert memories for a user in an app, with a category link for each (as the server does). */
export async function seedMemories(
  database: Database,
  userUuid: string,
  appId: string,
  states: string[],
): Promise<string[]> {
  const ids: string[] = []
  const [cat] = await rows<{id: string}>(
    database.db,
    sql`
    insert into categories (id, name, created_at) values (${randomUUID()}, ${`cat_${randomUUID().slice(0, 8)}`}, now())
    returning id::text as id`,
  )
  for (const state of states) {
    const id = randomUUID()
    ids.push(id)
    await database.db.execute(sql`
      insert into memories (id, user_id, app_id, content, state, created_at, updated_at)
      values (${id}, ${userUuid}, ${appId}, 'remember this', ${state}::memorystate, now(), now())`)
    await database.db.execute(
      sql`insert into memory_categories (memory_id, category_id) values (${id}, ${cat.id})`,
    )
  }
  return ids
}

export async function addApp(
  database: Database,
  userUuid: string,
  name: string,
  active = true,
): Promise<string> {
  const id = randomUUID()
  await database.db.execute(sql`
    insert into apps (id, owner_id, name, is_active, created_at, updated_at) values (${id}, ${userUuid}, ${name}, ${active}, now(), now())`)
  return id
}

/**
 * Many users at once, generated in SQL: each with an active key, a `default`
 * app and `memoriesEach` memories; last_active `daysAgo` days before `now`
 * (null when `neverActive`, with created_at then that old).
 */
export async function seedUsersBulk(
  database: Database,
  opts: {
    prefix: string
    count: number
    daysAgo: number
    now: Date
    memoriesEach?: number
    neverActive?: boolean
  },
): Promise<void> {
  const at = new Date(opts.now.getTime() - opts.daysAgo * 86_400_000).toISOString()
  await database.db.execute(sql`
    insert into users (id, user_id, name, created_at, updated_at, last_active)
    select gen_random_uuid(), ${opts.prefix} || g, ${opts.prefix} || g, ${at}::timestamp, ${at}::timestamp,
           ${opts.neverActive ? null : at}::timestamp
    from generate_series(1, ${opts.count}) g`)
  await database.db.execute(sql`
    insert into api_keys (id, user_id, key_hash, created_at, is_active)
    select gen_random_uuid(), u.id, md5(u.id::text) || md5(u.user_id), ${at}::timestamp, true
    from users u where u.user_id like ${`${opts.prefix}%`}`)
  await database.db.execute(sql`
    insert into apps (id, owner_id, name, is_active, created_at, updated_at)
    select gen_random_uuid(), u.id, 'default', true, ${at}::timestamp, ${at}::timestamp
    from users u where u.user_id like ${`${opts.prefix}%`}`)
  if (opts.memoriesEach) {
    await database.db.execute(sql`
      insert into memories (id, user_id, app_id, content, state, created_at)
      select gen_random_uuid(), a.owner_id, a.id, 'm', 'active', ${at}::timestamp
      from apps a join users u on u.id = a.owner_id, generate_series(1, ${opts.memoriesEach})
      where u.user_id like ${`${opts.prefix}%`}`)
  }
}

/**
 * A user written the way the server writes one, bypassing the tool:
 * `create_user_with_api_key` (zinohome/openmemory-multiuser api/app/auth.py
 * at 541f4739, lines 76-129) inserts the user with any user_id it is given (no
 * validation; here the name is the user_id), an api_keys row holding the key's
 * SHA-256 hex, and a `default` app. Timestamps as the ORM's defaults: now().
 * Returns the users.id.
 */
export async function plantServerUser(database: Database, userId: string, key = `mem_lab_${randomUUID()}`) {
  const id = randomUUID()
  const {createHash} = await import('node:crypto')
  await database.db.execute(sql`
    insert into users (id, user_id, name, created_at, updated_at) values (${id}, ${userId}, ${userId}, now(), now())`)
  await database.db.execute(sql`
    insert into api_keys (id, user_id, key_hash, created_at, is_active)
    values (${randomUUID()}, ${id}, ${createHash('sha256').update(key).digest('hex')}, now(), true)`)
  await addApp(database, id, 'default')
  return id
}
