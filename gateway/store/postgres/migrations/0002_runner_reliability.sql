-- The reliability of runner identities and the operator's quarantine list (what ReliabilityBook
-- keeps in runners.json, gateway/scheduling/reliability.ts's Reliability), for gateways that share a
-- database. Typed columns: five stable fields, which gateways can change with one atomic
-- `agreed = agreed + 1`. Applied by node-pg-migrate (../migrate.ts).

-- Up Migration
CREATE TABLE runner_reliability (
  identity text PRIMARY KEY,
  agreed integer NOT NULL DEFAULT 0 CHECK (agreed >= 0),
  disagreed integer NOT NULL DEFAULT 0 CHECK (disagreed >= 0),
  -- Agreements since the last disagreement.
  streak integer NOT NULL DEFAULT 0 CHECK (streak >= 0),
  last_disagreement_at text,
  quarantined boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE runner_reliability;
