// Which JobStore a gateway uses, from one setting (`CODEEXEC_STORE`): none means the files in its
// data directory (LowdbJobStore); a postgres:// URL means that database (PostgresJobStore), which
// several gateways can share. The PostgreSQL store (pg, node-pg-migrate) loads only when asked for.
import type { Logger } from '../../shared/index.js';
import type { Fleet } from '../fleet/fleet.js';
import { SoloFleet } from '../fleet/solo-fleet.js';
import type { JobStore } from './job-store-api.js';
import { LowdbJobStore } from './lowdb-job-store.js';

export type StoreSpec = { kind: 'files' } | { kind: 'postgres'; url: string };

/** Reads the setting; an error that says what is accepted for anything else. */
export function parseStoreSpec(spec: string | undefined): StoreSpec {
  const value = spec?.trim() ?? '';
  if (value === '') return { kind: 'files' };
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new Error(`CODEEXEC_STORE is not a valid ${scheme}:// URL`);
    }
    if (url.hostname === '' && !url.searchParams.has('host')) {
      throw new Error('CODEEXEC_STORE names no database host (postgres://user:password@host:port/database)');
    }
    return { kind: 'postgres', url: value };
  }
  // Never echo the value: it may hold a password.
  throw new Error(
    `CODEEXEC_STORE must be empty (the job files in the data directory) or a postgres:// URL ` +
      `(postgres://user:password@host:port/database), not ${scheme ? `a ${scheme}: URL` : 'this value'}`,
  );
}

/**
 * The store `spec` names, opened (see parseStoreSpec), with its fleet: the gateways that share it
 * (PostgreSQL), each known by its id (`gatewayId`, the owner of the jobs it inserts), or this
 * gateway alone (files).
 */
export async function openJobStore(
  spec: string | undefined,
  dataDir: string,
  log: Logger,
  gatewayId: string,
): Promise<{ store: JobStore; fleet: Fleet }> {
  const parsed = parseStoreSpec(spec);
  const onError = (err: Error) => log.error({ err }, 'the job store failed in the background');
  let store: JobStore;
  let fleet: Fleet;
  if (parsed.kind === 'files') {
    store = new LowdbJobStore(dataDir, { onError });
    fleet = new SoloFleet(gatewayId);
  } else {
    const { PostgresJobStore } = await import('./postgres/postgres-job-store.js');
    const postgres = new PostgresJobStore(parsed.url, {
      log,
      owner: gatewayId,
      // An idle connection that failed: the next query opens another, so a warning.
      onError: (err) => log.warn({ err }, 'a job database connection failed'),
    });
    store = postgres;
    fleet = postgres.fleet();
  }
  try {
    await store.open();
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  return { store, fleet };
}
