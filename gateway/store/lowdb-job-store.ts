// The JobStore on local files: a snapshot (data/jobs.json, the format the gateway has always
// written through lowdb) plus an append-only journal of changes since (data/jobs.journal), so a
// write costs one append of the records it changed, not a rewrite of every job. The snapshot is
// read through lowdb (the gateway's only lowdb importer; bench/whole-file-store.ts, the benchmark's
// baseline, is the other) and
// written a slice at a time by snapshot-writer.ts.
//
// Writes apply to memory when called, then join the batch being gathered: a batch is appended in
// one write once the current turn is over (group commit), and every promise of the batch resolves
// when that append completed. When the journal grows past the snapshot (and compactAfterBytes) it
// is compacted: the journal is renamed to jobs.journal.old, appends go on in a new jobs.journal,
// a snapshot of memory is written beside the old one and renamed over it, and the old journal is
// removed. Opening replays snapshot, jobs.journal.old if present, then jobs.journal; every entry
// is a whole record or a removal, so replaying changes the snapshot already holds is harmless and
// a kill at any step of a compaction loses nothing.
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TextFile } from 'lowdb/node';
import * as v from 'valibot';
import { describeIssues, type JobRecord, JobRecordSchema, type JobState } from '../../shared/index.js';
import { syncDir } from './fs-sync.js';
import { GroupCommit } from './group-commit.js';
import { type JournalEntry, JournalWriter, journalLine, readJournal } from './job-journal.js';
import type { JobFilter, JobPage, JobStore, TransitionPatch, UpdatePatch } from './job-store-api.js';
import { JobTable } from './job-table.js';
import { canTransition } from './job-transitions.js';
import { checkedRecord, deepFreeze, transitioned, updated } from './record-patch.js';
import { writeSnapshot } from './snapshot-writer.js';
import { StoreCorruptError, StoreError } from './store-errors.js';

const SnapshotSchema = v.object({ version: v.literal(1), jobs: v.array(JobRecordSchema) });

export interface LowdbJobStoreOptions {
  /**
   * false: a resolved write survives the process dying (kill -9, a crash): it is in the kernel's
   * page cache, which the kernel writes out whatever happens to the process; a power loss or
   * kernel crash may lose the journal's last seconds (what the old whole-file store offered).
   * true (default): each batch is also fdatasync'ed (and the journal's renames synced), so a
   * resolved write survives those too; a disk flush per batch, shared by the whole batch. Either
   * way snapshots are synced before they replace anything (snapshot-writer.ts).
   */
  fsync?: boolean;
  /** Compact once the journal is larger than both the snapshot and this. Default 4 MiB. */
  compactAfterBytes?: number;
  /**
   * Failures in the background: a compaction that could not finish (nothing lost, retried later),
   * or the failed append that stopped all writes (the error every later write rejects with).
   */
  onError?: (err: Error) => void;
  /**
   * A compaction has taken its picture of memory ('started': later writes are not in it, they go
   * to the new journal) or has replaced the snapshot ('finished'; see stats()). For logs and tests.
   */
  onCompaction?: (phase: 'started' | 'finished') => void;
}

export interface LowdbJobStoreStats {
  journalBytes: number;
  snapshotBytes: number;
  compactions: number;
  /** Appends to the journal, and the changes they carried: changes / batches is the group size. */
  batches: number;
  changes: number;
}

export class LowdbJobStore implements JobStore {
  readonly file: string;
  readonly #dir: string;
  readonly #journalFile: string;
  readonly #oldJournalFile: string;
  readonly #nextFile: string;
  readonly #fsync: boolean;
  readonly #compactAfter: number;
  readonly #onError: (err: Error) => void;
  readonly #onCompaction: (phase: 'started' | 'finished') => void;
  readonly #table = new JobTable();
  #state: 'new' | 'open' | 'closing' | 'closed' = 'new';
  #journal: JournalWriter | null = null;
  /** After a failed append memory may hold changes the disk lacks: it then refuses every write. */
  readonly #commits = new GroupCommit({
    append: (text) => this.#journal!.append(text),
    between: () => (this.#compactionDue() ? this.#rotate() : Promise.resolve()),
    failure: (err) => {
      const failure = new StoreError(
        'write_failed',
        `the job store could not write to ${this.#journalFile} (${err.message}); it accepts no more ` +
          'writes: fix the disk and restart. Writes not yet resolved may or may not be on disk.',
        { cause: err },
      );
      this.#onError(failure);
      return failure;
    },
  });
  #compaction: Promise<void> | null = null;
  /** jobs.journal.old exists: a compaction is under way or failed (and must not rotate again). */
  #rotated = false;
  #retryAtBytes = 0;
  #snapshotBytes = 0;
  #compactions = 0;

  constructor(dataDir: string, options: LowdbJobStoreOptions = {}) {
    this.#dir = dataDir;
    this.file = join(dataDir, 'jobs.json');
    this.#journalFile = join(dataDir, 'jobs.journal');
    this.#oldJournalFile = join(dataDir, 'jobs.journal.old');
    this.#nextFile = join(dataDir, 'jobs.json.next');
    this.#fsync = options.fsync ?? true;
    this.#compactAfter = options.compactAfterBytes ?? 4 * 1024 * 1024;
    this.#onError = options.onError ?? (() => {});
    this.#onCompaction = options.onCompaction ?? (() => {});
  }

  async open(): Promise<void> {
    if (this.#state !== 'new') throw new StoreError('closed', 'open() is called once, on a new store');
    await mkdir(this.#dir, { recursive: true });
    // A snapshot that was still being written when the process died was never committed.
    await rm(this.#nextFile, { force: true });
    await this.#readSnapshot();
    const old = await readJournal(this.#oldJournalFile);
    for (const entry of old?.entries ?? []) this.#replay(entry);
    const current = await readJournal(this.#journalFile);
    for (const entry of current?.entries ?? []) this.#replay(entry);
    const goodBytes = current?.goodBytes ?? 0;
    this.#journal = await JournalWriter.open(this.#journalFile, { fsync: this.#fsync, goodBytes });
    this.#state = 'open';
    // A compaction was cut short: finish it now, while nothing else writes.
    if (old !== null) {
      this.#rotated = true;
      await this.#compact().catch((err: Error) => this.#onError(compactionFailed(err)));
    }
  }

  async close(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    try {
      await this.#commits.flush();
    } finally {
      await this.#commits.idle();
      await this.#compaction;
      await this.#journal?.close();
      this.#state = 'closed';
    }
  }

  async flush(): Promise<void> {
    await this.#commits.flush();
  }

  async insert(job: JobRecord): Promise<void> {
    this.#checkWritable();
    if (this.#table.get(job.id)) throw new StoreError('duplicate_id', `job ${job.id} already exists`);
    await this.#put(job);
  }

  async transition(id: string, to: JobState, patch: TransitionPatch = {}): Promise<JobRecord> {
    this.#checkWritable();
    const job = this.#table.get(id);
    if (!job) throw new StoreError('not_found', `no job ${id}`);
    if (!canTransition(job.status, to)) {
      throw new StoreError('forbidden_transition', `job ${id}: ${job.status} → ${to} is not allowed`);
    }
    return this.#put(transitioned(job, to, patch));
  }

  async update(id: string, patch: UpdatePatch): Promise<JobRecord | undefined> {
    this.#checkWritable();
    const job = this.#table.get(id);
    if (!job) return undefined; // pruned meanwhile: nothing left to record on
    return this.#put(updated(job, patch));
  }

  async prune(finishedBefore: Date, keep: number): Promise<number> {
    this.#checkWritable();
    const victims = this.#table.prunable(finishedBefore.toISOString(), keep);
    for (const id of victims) {
      this.#table.delete(id);
      void this.#commits.add(journalLine({ op: 'del', id }));
    }
    if (victims.length > 0) await this.#commits.flush();
    return victims.length;
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return this.#table.get(id);
  }

  async list(filter: JobFilter, offset: number, limit: number): Promise<JobPage> {
    return this.#table.list(filter, offset, limit);
  }

  async unfinished(): Promise<JobRecord[]> {
    return this.#table.unfinished();
  }

  async pendingCallbacks(): Promise<JobRecord[]> {
    return this.#table.pendingCallbacks();
  }

  async size(): Promise<number> {
    return this.#table.size;
  }

  async queuedCount(): Promise<number> {
    return this.#table.queuedCount;
  }

  async unfinishedOf(client: string): Promise<number> {
    return this.#table.unfinishedOf(client);
  }

  stats(): LowdbJobStoreStats {
    const { batches, lines } = this.#commits.counts;
    return {
      journalBytes: this.#journal?.bytes ?? 0,
      snapshotBytes: this.#snapshotBytes,
      compactions: this.#compactions,
      batches,
      changes: lines,
    };
  }

  #checkWritable(): void {
    if (this.#commits.failure) throw this.#commits.failure;
    if (this.#state !== 'open') throw new StoreError('closed', `the job store is ${this.#state}, not open`);
  }

  /** Validates and freezes a whole record, stores it in memory, and journals it. */
  async #put(candidate: JobRecord): Promise<JobRecord> {
    const record = checkedRecord(candidate);
    this.#table.put(record);
    await this.#commits.add(journalLine({ op: 'put', job: record }));
    return record;
  }

  #compactionDue(): boolean {
    const bytes = this.#journal!.bytes;
    return (
      this.#compaction === null &&
      bytes > this.#compactAfter &&
      bytes > this.#snapshotBytes &&
      bytes >= this.#retryAtBytes
    );
  }

  /**
   * Starts a compaction: swaps in a new journal now (between two appends), then writes the
   * snapshot in the background while appends go on. After a failed compaction the old journal is
   * still there: it is not rotated again (that would overwrite it), the snapshot is just retried.
   */
  async #rotate(): Promise<void> {
    if (!this.#rotated) {
      // Renamed while open: no append is in flight (we are between two), and the old handle then
      // still points at the old journal until closed. A failure here stops the store's writes
      // (see GroupCommit): nothing is lost, but a half-done rotation is not worth reasoning about.
      await rename(this.#journalFile, this.#oldJournalFile);
      this.#rotated = true;
      const previous = this.#journal!;
      this.#journal = await JournalWriter.open(this.#journalFile, { fsync: this.#fsync, goodBytes: 0 });
      await previous.close();
      if (this.#fsync) await syncDir(this.#dir);
    }
    this.#compaction = this.#compact()
      .catch((err: Error) => {
        this.#retryAtBytes = this.#journal!.bytes + this.#compactAfter;
        this.#onError(compactionFailed(err));
      })
      .finally(() => {
        this.#compaction = null;
      });
  }

  /** Writes memory as the snapshot, then drops the old journal it covers. */
  async #compact(): Promise<void> {
    // Records are frozen, never changed in place: this array is memory as of now, however long
    // the writing takes and whatever is written meanwhile.
    const jobs = this.#table.all();
    this.#onCompaction('started');
    // Not through lowdb's DataFile: it takes the whole document as one string (see
    // snapshot-writer.ts). The same format, and the same temporary file renamed into place.
    this.#snapshotBytes = await writeSnapshot(jobs, this.file, this.#nextFile);
    await rm(this.#oldJournalFile, { force: true });
    this.#rotated = false;
    this.#compactions++;
    this.#onCompaction('finished');
  }

  async #readSnapshot(): Promise<void> {
    const text = await new TextFile(this.file).read();
    if (text === null) return;
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new StoreCorruptError(
        `${this.file} is not valid JSON (${(err as Error).message}). Refusing to start with an empty store: ` +
          'repair or move the file away, then start again.',
      );
    }
    const parsed = v.safeParse(SnapshotSchema, data);
    if (!parsed.success) {
      const problems = describeIssues(parsed.issues)
        .slice(0, 3)
        .map((p) => `${p.path}: ${p.message}`);
      throw new StoreCorruptError(
        `${this.file} does not hold valid job records (${problems.join('; ')}). Refusing to start: ` +
          'repair or move the file away, then start again.',
      );
    }
    for (const job of parsed.output.jobs) this.#table.put(deepFreeze(job));
    this.#snapshotBytes = Buffer.byteLength(text);
  }

  #replay(entry: JournalEntry): void {
    if (entry.op === 'put') this.#table.put(deepFreeze(entry.job));
    else this.#table.delete(entry.id);
  }
}

function compactionFailed(err: Error): Error {
  return new Error(`job store compaction failed (nothing is lost; retried later): ${err.message}`, {
    cause: err,
  });
}
