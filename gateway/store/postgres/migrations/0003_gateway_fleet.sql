-- Several gateways on one database (gateway/store/postgres/postgres-fleet.ts): each gateway's
-- membership as a row it renews (a lease: alive while expires_at is ahead of the server's clock),
-- and each unfinished job's owner, the gateway whose runners it is queued or running for. A job
-- whose owner's lease ran out is claimed by a living gateway. Applied by node-pg-migrate
-- (../migrate.ts).

-- Up Migration
CREATE TABLE gateways (
  id text PRIMARY KEY,
  started_at timestamptz NOT NULL DEFAULT now(),
  -- Renewed every beat; a gateway that left sets it to now() on its way out.
  expires_at timestamptz NOT NULL,
  -- What the gateway shows of itself to the fleet (its URL, its runners), as of its last beat.
  info json NOT NULL DEFAULT '{}'
);
CREATE INDEX gateways_expires ON gateways (expires_at);

-- null: no gateway owns it (written before this migration, or moved in by `codeexec migrate`):
-- the first gateway to look claims it.
ALTER TABLE jobs ADD COLUMN owner text;
-- The runner a running job runs on (the record's runner_id): a claim prefers the gateway that
-- runner reconnected to.
ALTER TABLE jobs ADD COLUMN runner_id text;
-- Set when a gateway hands a queued job to another (fleet/handoff.ts), until that one takes it.
ALTER TABLE jobs ADD COLUMN handed_off boolean NOT NULL DEFAULT false;
CREATE INDEX jobs_handed ON jobs (owner) WHERE handed_off;
CREATE INDEX jobs_owned ON jobs (owner, seq) WHERE status IN ('queued', 'running') OR callback_state = 'pending';

-- Down Migration
DROP INDEX jobs_owned;
DROP INDEX jobs_handed;
ALTER TABLE jobs DROP COLUMN handed_off;
ALTER TABLE jobs DROP COLUMN runner_id;
ALTER TABLE jobs DROP COLUMN owner;
DROP TABLE gateways;
