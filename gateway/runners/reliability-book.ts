// The reliability of every runner identity this gateway has verified results from, and the
// operator's quarantine list. Read synchronously (the scheduler asks on every offer) from records
// in memory; kept by a storage so that a restart neither forgives a liar nor lifts a quarantine:
// `<dataDir>/runners.json` (reliability-file.ts), or the database gateways share
// (store/postgres/postgres-reliability.ts), or nothing (inMemory). The rules are
// scheduling/reliability.ts's; this only keeps the records.
//
// A change shows here at once and is pending until the storage has it: written a moment later
// with the changes made meanwhile, one write at a time, and tried again (1 s, 2 s … 30 s) while the
// storage fails, which is logged, never thrown. A shared storage is read again every few seconds
// and after each write, so that what other gateways changed shows here too; the changes still
// pending are applied on top of what was read.
import type { Logger } from '../../shared/index.js';
import { type Reliability, standingOf } from '../scheduling/reliability.js';
import { afterChange, type ReliabilityChange, retryDelayMs, withChanges } from './reliability-changes.js';
import { ReliabilityFile } from './reliability-file.js';

/** Where the records are kept: the seam between the book and a file or a database. */
export interface ReliabilityStorage {
  /** The file or the database (no password), for logs. */
  readonly where: string;
  /** Other gateways write to it too: the book reads it again periodically and after its writes. */
  readonly shared: boolean;
  /** Every record stored. */
  load(): Promise<Map<string, Reliability>>;
  /**
   * Stores `changes` (in order), all or none. `records`: what was stored, as this book last read
   * or wrote it, with them applied (a storage written whole writes that).
   */
  save(changes: readonly ReliabilityChange[], records: ReadonlyMap<string, Reliability>): Promise<void>;
  close(): Promise<void>;
}

const WRITE_DELAY_MS = 200;
const RELOAD_EVERY_MS = 5_000;

export interface ReliabilityBookOptions {
  /** How often a shared storage is read again. Default 5 s. */
  reloadEveryMs?: number;
}

export class ReliabilityBook {
  readonly #storage: ReliabilityStorage | null;
  readonly #log: Logger;
  /** What the storage holds, as last read or written. */
  #stored = new Map<string, Reliability>();
  /** Changes not stored yet, oldest first. */
  #pending: ReliabilityChange[] = [];
  /** #stored with #pending applied: what get() and standing() answer from. */
  #records = new Map<string, Reliability>();
  #writeTimer: NodeJS.Timeout | null = null;
  #reloadTimer: NodeJS.Timeout | null = null;
  /** Storage calls run one at a time, in order: a read never overtakes a write called before it. */
  #tail: Promise<void> = Promise.resolve();
  #reloadQueued = false;
  /** Writes failed in a row (the next try waits longer); the storage failed at its last call. */
  #failures = 0;
  #failing = false;
  #closing: Promise<void> | null = null;

  private constructor(storage: ReliabilityStorage | null, log: Logger) {
    this.#storage = storage;
    this.#log = log;
  }

  /** Records kept only in memory (tests, and gateways without a data directory). */
  static inMemory(log: Logger): ReliabilityBook {
    return new ReliabilityBook(null, log);
  }

  /** The records of `file` (none yet: empty); null: in memory only. */
  static async open(file: string | null, log: Logger): Promise<ReliabilityBook> {
    return file === null
      ? ReliabilityBook.inMemory(log)
      : ReliabilityBook.openOn(new ReliabilityFile(file), log);
  }

  /**
   * The records of `storage`, read now (a failure is thrown, after closing the storage). A shared
   * storage is then read again every `reloadEveryMs`; close() stops that and closes the storage.
   */
  static async openOn(
    storage: ReliabilityStorage,
    log: Logger,
    options: ReliabilityBookOptions = {},
  ): Promise<ReliabilityBook> {
    const book = new ReliabilityBook(storage, log);
    try {
      book.#stored = await storage.load();
    } catch (err) {
      await storage.close().catch(() => {});
      throw err;
    }
    book.#records = new Map(book.#stored);
    if (storage.shared) {
      book.#reloadTimer = setInterval(() => void book.reload(), options.reloadEveryMs ?? RELOAD_EVERY_MS);
      book.#reloadTimer.unref();
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
    this.#change({ identity, kind: 'agreed' });
  }

  disagreed(identity: string, at: string): void {
    this.#change({ identity, kind: 'disagreed', at });
    this.#log.warn({ identity }, 'a runner identity disagreed with a verified result');
  }

  /** Quarantined identities take no work until released. */
  quarantine(identity: string, quarantined: boolean): Reliability {
    this.#change({ identity, kind: 'quarantine', quarantined });
    this.#log.warn({ identity }, quarantined ? 'runner identity quarantined' : 'runner identity released');
    return this.#records.get(identity)!;
  }

  /** Writes what is pending now (one try: a failure is logged, and tried again later). */
  async flush(): Promise<void> {
    if (this.#writeTimer !== null) {
      clearTimeout(this.#writeTimer);
      this.#writeTimer = null;
    }
    await this.#enqueue(() => this.#write());
  }

  /** Reads the storage again (a shared one: what other gateways changed), after pending writes. */
  reload(): Promise<void> {
    // One read waiting is enough: a slow database does not pile them up.
    if (this.#reloadQueued || this.#storage === null) return this.#tail;
    this.#reloadQueued = true;
    return this.#enqueue(async () => {
      this.#reloadQueued = false;
      await this.#read();
    });
  }

  /** Stops reading again, writes what is pending (flush), and closes the storage. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#reloadTimer !== null) clearInterval(this.#reloadTimer);
      this.#reloadTimer = null;
      await this.flush();
      // A retry that flush's failure scheduled: nobody is left to run it.
      if (this.#writeTimer !== null) clearTimeout(this.#writeTimer);
      this.#writeTimer = null;
      if (this.#pending.length > 0) {
        this.#log.error(
          { where: this.#storage?.where, pending: this.#pending.length },
          'runner reliability changes were not stored before closing',
        );
      }
      await this.#tail;
      await this.#storage?.close();
    })();
    return this.#closing;
  }

  #change(change: ReliabilityChange): void {
    this.#records.set(change.identity, afterChange(this.#records.get(change.identity), change));
    if (this.#storage === null || this.#closing !== null) return;
    this.#pending.push(change);
    this.#scheduleWrite(WRITE_DELAY_MS);
  }

  #scheduleWrite(delayMs: number): void {
    if (this.#writeTimer !== null) return;
    this.#writeTimer = setTimeout(() => {
      this.#writeTimer = null;
      void this.#enqueue(() => this.#write());
    }, delayMs);
    this.#writeTimer.unref();
  }

  #enqueue(work: () => Promise<void>): Promise<void> {
    // Each step logs the storage's failures itself; this catch is for a bug, so that one failed
    // step does not stop those after it.
    this.#tail = this.#tail
      .then(work)
      .catch((err: unknown) => this.#log.error({ err }, 'runner reliability bookkeeping failed'));
    return this.#tail;
  }

  async #write(): Promise<void> {
    const storage = this.#storage;
    const changes = this.#pending.slice();
    if (storage === null || changes.length === 0) return;
    const after = withChanges(this.#stored, changes);
    try {
      await storage.save(changes, after);
    } catch (err) {
      this.#failures += 1;
      const retryMs = retryDelayMs(this.#failures);
      this.#failed(err, 'could not store runner reliability changes; trying again', {
        pending: changes.length,
        retry_ms: retryMs,
      });
      this.#scheduleWrite(retryMs);
      return;
    }
    this.#failures = 0;
    this.#recovered();
    // Changes made while it was written stay pending.
    this.#pending.splice(0, changes.length);
    this.#stored = after;
    if (storage.shared) await this.#read();
    else this.#records = withChanges(this.#stored, this.#pending);
  }

  async #read(): Promise<void> {
    const storage = this.#storage;
    if (storage === null) return;
    try {
      this.#stored = await storage.load();
    } catch (err) {
      this.#failed(err, 'could not read runner reliability; keeping what was read before', {});
      return;
    }
    this.#recovered();
    this.#records = withChanges(this.#stored, this.#pending);
  }

  /** Logs a failure of the storage: an error when it starts failing, then quietly until it works. */
  #failed(err: unknown, message: string, fields: Record<string, unknown>): void {
    const level = this.#failing ? 'debug' : 'error';
    this.#failing = true;
    this.#log[level]({ where: this.#storage?.where, err, ...fields }, message);
  }

  #recovered(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.#log.info({ where: this.#storage?.where }, 'runner reliability storage works again');
  }
}
