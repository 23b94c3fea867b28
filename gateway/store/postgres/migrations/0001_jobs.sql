-- The jobs of PostgresJobStore (../postgres-job-store.ts): each whole JobRecord as JSON, beside
-- typed copies of the fields the store queries by, which the store writes from the same record in
-- the same statement. Applied by node-pg-migrate (../migrate.ts); never edit an applied migration,
-- add the next number.

-- Up Migration
CREATE TABLE jobs (
  -- Creation order (ids are random): list walks it newest first, unfinished and prune oldest first.
  seq bigint GENERATED ALWAYS AS IDENTITY,
  id text PRIMARY KEY,
  status text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
  client text,
  task_id text,
  -- ISO-8601 strings, as the record has them, compared byte by byte ("C") as JavaScript compares
  -- them: prune removes exactly the jobs LowdbJobStore would.
  created_at text COLLATE "C" NOT NULL,
  finished_at text COLLATE "C",
  -- The record's callback.state (pending, delivered, failed), null without a callback.
  callback_state text,
  -- `json`, not `jsonb`: jsonb refuses the NUL character (\u0000), which a program's output may
  -- hold, and the store reads records whole, never by path.
  record json NOT NULL
);
CREATE UNIQUE INDEX jobs_seq ON jobs (seq);
CREATE INDEX jobs_task ON jobs (task_id, seq) WHERE task_id IS NOT NULL;
CREATE INDEX jobs_client ON jobs (client, seq) WHERE client IS NOT NULL;
CREATE INDEX jobs_unfinished ON jobs (seq) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_unfinished_client ON jobs (client) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_finished ON jobs (seq) WHERE status NOT IN ('queued', 'running');
CREATE INDEX jobs_callback_pending ON jobs (seq) WHERE callback_state = 'pending';

-- Down Migration
DROP TABLE jobs;
