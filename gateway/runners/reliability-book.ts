// The reliability of every runner identity this gateway has verified results from, and the
// operator's quarantine list, kept in `<dataDir>/runners.json` (written whole, atomically, a
// moment after each change) so that a restart neither forgives a liar nor lifts a quarantine.
// The rules are scheduling/reliability.ts's; this only keeps the records.
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../../shared/index.js';
import {
  afterAgreement,
  afterDisagreement,
  NEW_RELIABILITY,
  type Reliability,
  standingOf,
} from '../scheduling/reliability.js';

const WRITE_DELAY_MS = 200;

export class ReliabilityBook {
  readonly #file: string | null;
  readonly #log: Logger;
  readonly #records = new Map<string, Reliability>();
  #timer: NodeJS.Timeout | null = null;
  #writing: Promise<void> = Promise.resolve();

  private constructor(file: string | null, log: Logger) {
    this.#file = file;
    this.#log = log;
  }

  /** Records kept only in memory (tests, and gateways without a data directory). */
  static inMemory(log: Logger): ReliabilityBook {
    return new ReliabilityBook(null, log);
  }

  /** Loads the file (none yet: empty). A damaged file is an error naming it, never a reset. */
  static async open(file: string | null, log: Logger): Promise<ReliabilityBook> {
    const book = new ReliabilityBook(file, log);
    if (file === null) return book;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return book;
      throw err;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new Error(`${file} is damaged (${(err as Error).message}); fix or remove it`);
    }
    const records = (data as { identities?: unknown }).identities;
    if (typeof records !== 'object' || records === null) {
      throw new Error(`${file} is damaged (no "identities" object); fix or remove it`);
    }
    for (const [identity, record] of Object.entries(records as Record<string, Partial<Reliability>>)) {
      book.#records.set(identity, { ...NEW_RELIABILITY, ...record });
    }
    return book;
  }

  get(identity: string): Reliability | undefined {
    return this.#records.get(identity);
  }

  standing(identity: string): { standing: 'good' | 'doubtful'; quarantined: boolean } {
    const record = this.#records.get(identity);
    return { standing: standingOf(record), quarantined: record?.quarantined ?? false };
  }

  agreed(identity: string): void {
    this.#update(identity, afterAgreement);
  }

  disagreed(identity: string, at: string): void {
    this.#update(identity, (record) => afterDisagreement(record, at));
    this.#log.warn({ identity }, 'a runner identity disagreed with a verified result');
  }

  /** Quarantined identities take no work until released. */
  quarantine(identity: string, quarantined: boolean): Reliability {
    this.#update(identity, (record) => ({ ...record, quarantined }));
    this.#log.warn({ identity }, quarantined ? 'runner identity quarantined' : 'runner identity released');
    return this.#records.get(identity)!;
  }

  /** Writes what is pending now. */
  async flush(): Promise<void> {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
      this.#write();
    }
    await this.#writing;
  }

  #update(identity: string, change: (record: Reliability) => Reliability): void {
    this.#records.set(identity, change(this.#records.get(identity) ?? { ...NEW_RELIABILITY }));
    if (this.#file === null || this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#write();
    }, WRITE_DELAY_MS);
    this.#timer.unref();
  }

  #write(): void {
    const file = this.#file;
    if (file === null) return;
    const text = `${JSON.stringify({ identities: Object.fromEntries(this.#records) }, null, 2)}\n`;
    this.#writing = this.#writing
      .then(async () => {
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
      })
      .catch((err: Error) => this.#log.error({ file, err }, 'could not write the runners file'));
  }
}
