// Where a gateway keeps runner reliability, from the setting that says where it keeps jobs
// (`CODEEXEC_STORE`, store/open-job-store.ts): with files in its data directory, `runners.json`
// there; with a postgres:// URL, that database's `runner_reliability` table, which the gateways
// sharing it share too (a quarantine set on one holds on all). pg loads only when asked for.
import type { Logger } from '../../shared/index.js';
import { parseStoreSpec } from '../store/open-job-store.js';
import { ReliabilityBook } from './reliability-book.js';

/** The book for the store `spec` names; `file` is the runners file a files store uses. */
export async function openReliabilityBook(
  spec: string | undefined,
  file: string,
  log: Logger,
): Promise<ReliabilityBook> {
  const parsed = parseStoreSpec(spec);
  if (parsed.kind === 'files') return ReliabilityBook.open(file, log);
  const { PostgresReliability } = await import('../store/postgres/postgres-reliability.js');
  const storage = PostgresReliability.connect(parsed.url, {
    onError: (err) => log.warn({ err }, 'a runner reliability database connection failed'),
  });
  try {
    // The job store (opened first) has migrated the database already: then this finds nothing to do.
    await storage.migrate(log);
  } catch (err) {
    await storage.close().catch(() => {});
    throw err;
  }
  return ReliabilityBook.openOn(storage, log);
}
