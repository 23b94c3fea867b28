// The PostgreSQL store's schema: numbered SQL files in ./migrations (0001_jobs.sql, …), applied in
// order by node-pg-migrate, which records them in `codeexec_migrations` and holds an advisory lock
// meanwhile: of gateways starting together on one database, one migrates and the others wait for
// it, then find nothing left to do.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runner } from 'node-pg-migrate';
import type { ClientBase } from 'pg';
import type { Logger } from '../../../shared/index.js';

export const MIGRATIONS_TABLE = 'codeexec_migrations';
/** Our own advisory lock key (node-pg-migrate's default is shared by every application using it). */
const LOCK_KEY = 0x636f6465; // "code"

/**
 * Where the SQL files are. In the source tree, beside this file. In a build, tsup.config.ts copies
 * them to dist/postgres-migrations, and this code is in dist/ (cli.js, or a shared chunk) or in
 * dist/bench/.
 */
export function migrationsDir(here: string = import.meta.dirname): string {
  const candidates = [
    join(here, 'migrations'),
    join(here, 'postgres-migrations'),
    join(here, '..', 'postgres-migrations'),
  ];
  const found = candidates.find((dir) => existsSync(join(dir, '0001_jobs.sql')));
  if (found === undefined) {
    throw new Error(
      `the job database's migrations are missing (looked in ${candidates.join(', ')}): ` +
        'build again with `npm run build`',
    );
  }
  return found;
}

/**
 * Applies the migrations not yet applied, on `client` (connected; the caller releases it), in one
 * transaction. Resolves with the names it applied (none when the schema is current).
 */
export async function migrate(client: ClientBase, log: Logger): Promise<string[]> {
  const detail = (level: 'debug' | 'warn' | 'error') => (message: string) =>
    log[level]({ detail: message.trim() }, 'job database migration');
  const applied = await runner({
    dbClient: client,
    dir: migrationsDir(),
    direction: 'up',
    migrationsTable: MIGRATIONS_TABLE,
    // Wait for a gateway that is migrating instead of failing (node-pg-migrate's default).
    advisoryLockMode: 'wait',
    lockValue: LOCK_KEY,
    singleTransaction: true,
    checkOrder: true,
    logger: { debug: detail('debug'), info: detail('debug'), warn: detail('warn'), error: detail('error') },
  });
  const names = applied.map((migration) => migration.name);
  if (names.length > 0) log.info({ migrations: names }, 'job database migrated');
  return names;
}
