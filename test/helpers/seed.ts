import {randomUUID} from 'node:crypto'
import {sql} from 'drizzle-orm'
import type {Database} from '../../src/db/client.js'

/** Insert memories for a user in an app, with a category link for each (as the server does). */
export async function seedMemories(
  database: Database,
  userUuid: string,
  appId: string,
  states: string[],
): Promise<string[]> {
  const ids: string[] = []
  const [cat] = await database.rows<{id: string}>(sql`
    insert into categories (id, name, created_at) values (${randomUUID()}, ${`cat_${randomUUID().slice(0, 8)}`}, now())
    returning id::text as id`)
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
