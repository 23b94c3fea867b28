// Running work on one pooled PostgreSQL connection, for the job store and the fleet that share a
// pool: a transaction that rolls back on any failure, and a connection that is dropped rather than
// reused after a failure that may have broken it.
import type pg from 'pg';
import { StoreError } from '../store-errors.js';
import { isUnavailable, storeErrorOf } from './pg-errors.js';

/** Runs `work` between BEGIN and COMMIT on one connection; any failure rolls it back. */
export function inTransaction<T>(
  pool: pg.Pool,
  where: string,
  doing: string,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  return withClient(pool, where, doing, async (client) => {
    await client.query('BEGIN');
    try {
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // A lost or hung connection is dropped instead (withClient), which rolls back as well.
      if (!isUnavailable(err)) await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  });
}

/**
 * Runs `work` on a connection of the pool, then gives it back, or drops it after a failure that
 * was not one of our guards (it may be broken). With `doing`, failures become StoreErrors here
 * (naming `where`, the database); without it they are thrown as they came.
 */
export async function withClient<T>(
  pool: pg.Pool,
  where: string,
  doing: string,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw doing ? storeErrorOf(err, doing, where) : err;
  }
  // A checked-out connection that fails between queries emits 'error': unheard, it would crash
  // the process. The query in flight (if any) rejects as well, which is what we act on.
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken = err;
  };
  client.on('error', onError);
  try {
    const result = await work(client);
    client.off('error', onError);
    client.release(broken);
    return result;
  } catch (err) {
    client.off('error', onError);
    client.release(err instanceof StoreError && broken === undefined ? undefined : true);
    throw doing ? storeErrorOf(err, doing, where) : err;
  }
}
