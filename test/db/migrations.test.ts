import {afterEach, describe, expect, it} from 'vitest'
import {runMigrations} from '../../src/db/client.js'
import {rows} from '../../src/db/sql.js'
import {dbStatus} from '../../src/services/status.js'
import {
  ADMIN_URL,
  catalogSnapshot,
  createTestDatabase,
  DRIVERS,
  type TestDatabase,
} from '../helpers/databases.js'

/** Every migration the tool ships, in order (drizzle's journal). */
const SHIPPED = ['0000_init', '0001_run_locks']

function diff(before: Record<string, string[]>, after: Record<string, string[]>) {
  const added: string[] = []
  const removed: string[] = []
  for (const key of Object.keys(before)) {
    for (const v of after[key]) if (!before[key].includes(v)) added.push(`${key}: ${v}`)
    for (const v of before[key]) if (!after[key].includes(v)) removed.push(`${key}: ${v}`)
  }
  return {added: added.sort(), removed}
}

describe.each(DRIVERS)('migrations on %s', (driver) => {
  const dbs: TestDatabase[] = []
  afterEach(async () => {
    for (const d of dbs.splice(0)) await d.drop()
  })
  const make = async (fixture?: 'multiuser' | 'upstream') => {
    const d = await createTestDatabase(driver, fixture)
    dbs.push(d)
    return d
  }

  it('builds on an empty database exactly the schema the multi-user server creates', async () => {
    const empty = await make()
    const reference = await make('multiuser')
    const a = await empty.open({migrate: true})
    const b = await reference.open({migrate: false})
    try {
      expect(await catalogSnapshot(a)).toEqual(await catalogSnapshot(b))
      expect((await dbStatus(a)).schema).toBe('managed')
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('adopts a multi-user database without changing anything the server owns', async () => {
    const d = await make('multiuser')
    let database = await d.open({migrate: false})
    const before = await catalogSnapshot(database)
    expect((await dbStatus(database)).schema).toBe('multi-user')
    const {applied} = await runMigrations(database)
    expect(applied).toEqual(SHIPPED)
    expect(await catalogSnapshot(database)).toEqual(before)
    const status = await dbStatus(database)
    expect(status.schema).toBe('managed')
    expect(status.incompatibilities).toEqual([])
    expect(status.pendingMigrations).toEqual([])
    await database.close()
    database = await d.open({migrate: false})
    // Tool tables exist in their own schema.
    const own = await catalogSnapshot(database, 'openmemory_admin')
    expect(own.columns.some((c) => c.startsWith('audit_log.'))).toBe(true)
    await database.close()
  })

  it('upgrades an upstream database by adding only api_keys and users.last_active', async () => {
    const d = await make('upstream')
    const database = await d.open({migrate: false})
    try {
      const before = await catalogSnapshot(database)
      const status = await dbStatus(database)
      expect(status.schema).toBe('upstream')
      expect(status.missing.sort()).toEqual(['api_keys', 'users.last_active'])
      expect(status.incompatibilities).toEqual([])
      await runMigrations(database)
      const {added, removed} = diff(before, await catalogSnapshot(database))
      expect(removed).toEqual([])
      const tables = new Set(
        added.map((a) => {
          const m = /^(?:columns: (\w+)\.(\w+)|indexes: .* ON public\.(\w+)|constraints: (\w+) )/.exec(a)
          return m ? (m[1] ? (m[1] === 'api_keys' ? 'api_keys' : `${m[1]}.${m[2]}`) : (m[3] ?? m[4])) : a
        }),
      )
      expect([...tables].sort()).toEqual(['api_keys', 'users.last_active'])
      // The upstream enum keeps its extra state.
      expect((await dbStatus(database)).memoryStates).toEqual(['active', 'paused', 'archived', 'deleted'])
    } finally {
      await database.close()
    }
  })

  it('names an incompatible column precisely in db status', async () => {
    const d = await make('multiuser')
    const database = await d.open({migrate: false})
    try {
      const {sql} = await import('drizzle-orm')
      await database.db.execute(sql`alter table api_keys alter column key_hash type text`)
      await database.db.execute(sql`alter table users drop column email`)
      const status = await dbStatus(database)
      expect(status.compatible).toBe(false)
      expect(status.incompatibilities).toEqual([
        {table: 'users', column: 'email', expected: 'character varying', found: 'missing'},
        {table: 'api_keys', column: 'key_hash', expected: 'character varying', found: 'text'},
      ])
    } finally {
      await database.close()
    }
  })

  it('skips the migration pass when the recorded migrations match the shipped ones', async () => {
    const d = await make()
    const first = await d.open({migrate: true})
    await first.close()
    const queries: string[] = []
    const again = await d.open({migrate: true, onQuery: (q) => queries.push(q)})
    await again.close()
    // Two probes (table present? newest hash?) beside the connection check, nothing of drizzle's migrator.
    expect(queries.filter((q) => q.trim() !== 'select 1')).toHaveLength(2)
    expect(queries.join('\n')).not.toMatch(/create (schema|table)|insert into/i)
  })

  it('changes nothing on a second run', async () => {
    const d = await make('upstream')
    const database = await d.open({migrate: false})
    try {
      await runMigrations(database)
      const once = await catalogSnapshot(database)
      const second = await runMigrations(database)
      expect(second.applied).toEqual([])
      expect(await catalogSnapshot(database)).toEqual(once)
    } finally {
      await database.close()
    }
  })
})

describe('migrations on postgres, concurrently', () => {
  it('serialises two db migrate runs at once: both succeed, schema built once', async () => {
    const d = await createTestDatabase('postgres', 'multiuser')
    try {
      const [a, b] = await Promise.all([d.open(), d.open()])
      const results = await Promise.all([runMigrations(a), runMigrations(b)])
      expect(results.map((r) => r.applied.length).sort()).toEqual([0, SHIPPED.length])
      const found = await rows<{n: number}>(
        a.db,
        (await import('drizzle-orm')).sql`select count(*)::int as n from openmemory_admin.migrations`,
      )
      expect(found[0].n).toBe(SHIPPED.length)
      await a.close()
      await b.close()
    } finally {
      await d.drop()
    }
  })
})

describe('migrations on postgres, as a role that does not own the server tables', () => {
  it('adopts a multi-user database with only read/write rights and CREATE on the database', async () => {
    const d = await createTestDatabase('postgres', 'multiuser')
    const role = `om_adopter_${process.pid}`
    const {default: postgres} = await import('postgres')
    const admin = postgres(ADMIN_URL, {max: 1, onnotice: () => {}})
    const owner = postgres(d.url!, {max: 1, onnotice: () => {}})
    try {
      await admin.unsafe(`drop role if exists ${role}`)
      await admin.unsafe(`create role ${role} login`)
      const dbName = new URL(d.url!).pathname.slice(1)
      await owner.unsafe(`grant connect, create on database ${dbName} to ${role}`)
      await owner.unsafe(`grant usage on schema public to ${role}`)
      await owner.unsafe(`grant select, insert, update, delete on all tables in schema public to ${role}`)
      const url = new URL(d.url!)
      url.username = role
      const {openDatabase} = await import('../../src/db/client.js')
      const database = await openDatabase({
        kind: 'postgres',
        url: url.toString(),
        source: '--database-url',
        display: 'x',
      })
      const before = await catalogSnapshot(database)
      expect((await runMigrations(database)).applied).toEqual(SHIPPED)
      expect(await catalogSnapshot(database)).toEqual(before)
      expect((await dbStatus(database)).schema).toBe('managed')
      await database.close()
    } finally {
      await owner.end()
      await d.drop()
      await admin.unsafe(`drop role if exists ${role}`)
      await admin.end()
    }
  })
})
