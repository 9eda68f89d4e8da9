/**
 * `db status` names the indexes the streamed listings need when the server's
 * schema lacks them, as a suggestion; it never adds them.
 */
import {sql} from 'drizzle-orm'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {dbStatus, missingListingIndexes} from '../../src/services/status.js'
import {dbStatusLines} from '../../src/ui/render.js'
import {catalogSnapshot, createTestDatabase, type TestDatabase} from '../helpers/databases.js'

describe('listing index suggestions (db status)', () => {
  let td: TestDatabase
  beforeAll(async () => {
    td = await createTestDatabase('postgres', 'multiuser')
  })
  afterAll(async () => td?.drop())

  it('suggests nothing on the server schema, which has every index the listings use', async () => {
    const d = await td.open({migrate: false})
    try {
      expect(await missingListingIndexes(d)).toEqual([])
    } finally {
      await d.close()
    }
  })

  it('suggests the missing index on memories(user_id, state), and adds nothing', async () => {
    const d = await td.open({migrate: false})
    try {
      await d.db.execute(
        sql.raw(
          'drop index idx_memory_user_state; drop index idx_memory_user_app; drop index ix_memories_user_id',
        ),
      )
      const before = await catalogSnapshot(d)
      const status = await dbStatus(d)
      expect(status.indexSuggestions.map((i) => i.create)).toEqual([
        'CREATE INDEX CONCURRENTLY ON memories (user_id, state);',
      ])
      expect(dbStatusLines(status)).toContain('CREATE INDEX CONCURRENTLY ON memories (user_id, state);')
      expect(await catalogSnapshot(d)).toEqual(before)
    } finally {
      await d.close()
    }
  })
})
