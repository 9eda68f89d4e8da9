-- The run locks of bulk jobs (prune, bulk rotation, import): a lease row per job
-- name (src/db/client.ts). The tool's own table, in its own schema.
CREATE TABLE IF NOT EXISTS "openmemory_admin"."run_locks" (
	"name" text PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"backend_pid" integer,
	"backend_start" timestamp with time zone
);
