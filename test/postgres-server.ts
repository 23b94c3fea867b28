// A private PostgreSQL server for tests (test/postgres-process.ts: initdb into a temporary
// directory, a free loopback port, one new database per caller), stopped and removed by teardown
// even when tests fail.
import { teardown } from './helpers.js';
import { launchPostgres, type PostgresServer } from './postgres-process.js';

export type { PostgresServer };

/** Starts a private server for the calling test file; teardown stops it and removes its files. */
export async function startPostgres(): Promise<PostgresServer> {
  const server = await launchPostgres();
  teardown(() => server.destroy());
  return server;
}
