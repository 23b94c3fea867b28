// Where a gateway on its data directory keeps runner reliability: `<dataDir>/runners.json`, written
// whole and atomically (a temporary file, fsync, rename), read back at start. A damaged file is an
// error naming it, never a reset: a restart must neither forgive a liar nor lift a quarantine.
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { NEW_RELIABILITY, type Reliability } from '../scheduling/reliability.js';
import type { ReliabilityStorage } from './reliability-book.js';
import type { ReliabilityChange } from './reliability-changes.js';

export class ReliabilityFile implements ReliabilityStorage {
  readonly where: string;
  /** Only this gateway writes it: no need to read it again. */
  readonly shared = false;

  constructor(file: string) {
    this.where = file;
  }

  async load(): Promise<Map<string, Reliability>> {
    const file = this.where;
    const records = new Map<string, Reliability>();
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return records;
      throw err;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new Error(`${file} is damaged (${(err as Error).message}); fix or remove it`);
    }
    const identities = (data as { identities?: unknown } | null)?.identities;
    if (typeof identities !== 'object' || identities === null) {
      throw new Error(`${file} is damaged (no "identities" object); fix or remove it`);
    }
    for (const [identity, record] of Object.entries(identities as Record<string, Partial<Reliability>>)) {
      records.set(identity, { ...NEW_RELIABILITY, ...record });
    }
    return records;
  }

  /** Writes `records` whole (the changes that led to them are already in them). */
  async save(
    _changes: readonly ReliabilityChange[],
    records: ReadonlyMap<string, Reliability>,
  ): Promise<void> {
    const file = this.where;
    const text = `${JSON.stringify({ identities: Object.fromEntries(records) }, null, 2)}\n`;
    await mkdir(dirname(file), { recursive: true });
    const temp = `${file}.tmp`;
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  }

  async close(): Promise<void> {}
}
