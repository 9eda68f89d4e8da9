/**
 * A deterministic data set for the listing tests: every id, name and time is
 * a function of the row number, so two databases (PostgreSQL and embedded)
 * seeded with the same count list exactly the same bytes. It has what makes
 * listings hard: ties in the sort keys, nulls, names with commas, quotes and
 * line breaks, users with no key, no app, several apps, revoked keys,
 * deactivations, memories in every state, and audit rows.
 */
import {sql} from 'drizzle-orm'
import type {Database} from '../../src/db/client.js'

export async function seedListing(database: Database, count: number): Promise<void> {
  const run = (q: ReturnType<typeof sql>) => database.db.execute(q)
  await run(sql`
    insert into users (id, user_id, name, email, created_at, updated_at, last_active)
    select md5('user' || g)::uuid,
           'u' || lpad(g::text, 5, '0'),
           case when g % 7 = 0 then null
                when g % 11 = 0 then 'Brown, "Name" ' || g
                when g % 13 = 0 then E'Line\nbreak\t' || g
                when g % 19 = 0 then '=cmd|' || g
                else 'User ' || g end,
           case when g % 3 = 0 then 'u' || g || '@example.com' else null end,
           timestamp '2026-01-01 00:00:00' + (g / 3) * interval '1 hour' + interval '0.123456 second',
           timestamp '2026-01-01 00:00:00',
           case when g % 5 = 0 then null
                else timestamp '2026-03-01 00:00:00' + ((g * 37) % 400) * interval '1 hour' end
    from generate_series(1, ${count}) g`)
  await run(sql`
    insert into api_keys (id, user_id, key_hash, created_at, last_used, is_active)
    select md5('key' || g)::uuid, md5('user' || g)::uuid, md5('hash' || g) || md5('hash2' || g),
           timestamp '2026-01-02 00:00:00' + g * interval '1 minute',
           case when g % 4 = 1 then timestamp '2026-04-01 00:00:00' + g * interval '1 second' else null end,
           g % 4 <> 0
    from generate_series(1, ${count}) g where g % 9 <> 0`)
  await run(sql`
    insert into apps (id, owner_id, name, is_active, created_at, updated_at)
    select md5('app' || g)::uuid, md5('user' || g)::uuid, 'default', true,
           timestamp '2026-01-01 00:00:00', timestamp '2026-01-01 00:00:00'
    from generate_series(1, ${count}) g where g % 17 <> 0`)
  await run(sql`
    insert into apps (id, owner_id, name, is_active, created_at, updated_at)
    select md5('app2-' || g)::uuid, md5('user' || g)::uuid, 'claude, "desktop"', g % 12 <> 0,
           timestamp '2026-01-01 00:00:00', timestamp '2026-01-01 00:00:00'
    from generate_series(1, ${count}) g where g % 6 = 0`)
  await run(sql`
    insert into memories (id, user_id, app_id, content, state, created_at, updated_at)
    select md5('mem' || g || '-' || i)::uuid, md5('user' || g)::uuid,
           case when g % 6 = 0 and i % 2 = 0 then md5('app2-' || g)::uuid else md5('app' || g)::uuid end,
           'm', (array['active', 'archived', 'deleted'])[1 + i % 3]::memorystate,
           timestamp '2026-02-01 00:00:00', timestamp '2026-02-01 00:00:00'
    from generate_series(1, ${count}) g, generate_series(1, g % 5) i
    where g % 2 = 0 and g % 17 <> 0`)
  await run(sql`
    insert into openmemory_admin.deactivations (user_uuid, deactivated_at, reason, key_switched_off, app_ids)
    select md5('user' || g)::uuid, timestamptz '2026-05-01 00:00:00+00', 'left', true, '{}'
    from generate_series(1, ${count}) g where g % 8 = 0`)
  await run(sql`
    insert into openmemory_admin.audit_log (at, os_user, host, command, target_user_id, outcome, details)
    select timestamptz '2026-05-01 00:00:00+00' + (g / 2) * interval '1 minute', 'ops', 'host' || (g % 3),
           'users deactivate', 'u' || lpad(g::text, 5, '0'), 'changed',
           jsonb_build_object('reason', 'left ' || g, 'n', g)
    from generate_series(1, ${count}) g`)
}
