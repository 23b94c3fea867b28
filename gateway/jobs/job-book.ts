// The jobs this gateway process is responsible for: every unfinished job, in memory, where the
// dispatcher reads and changes them synchronously, with each change written through to the
// JobStore in order. A finished job leaves the book once its final write is durable; from then on
// it is read from the store. So scheduling never waits on the store, and the store can be one
// that lives on another machine (PostgreSQL) without changing the dispatcher.
import type { JobRecord, JobState } from '../../shared/index.js';
import type { JobStore, TransitionPatch } from '../store/job-store-api.js';
import { canTransition, isUnfinished } from '../store/job-transitions.js';
import { transitioned } from '../store/record-patch.js';

export class JobBook {
  readonly #store: JobStore;
  readonly #live = new Map<string, JobRecord>();
  /** The latest write of each job in the book: durable(id) waits for it. */
  readonly #writes = new Map<string, Promise<unknown>>();
  #queued = 0;
  readonly #unfinishedByClient = new Map<string, number>();
  readonly #runningByClient = new Map<string, number>();
  readonly #onWriteError: (err: Error, job: JobRecord, inserted: boolean) => void;

  /**
   * `onWriteError`: a write failed. `inserted` false: the job was never stored (its insert
   * failed), so it has left the book: it is not offered, and whoever watches it must be told.
   */
  constructor(store: JobStore, onWriteError: (err: Error, job: JobRecord, inserted: boolean) => void) {
    this.#store = store;
    this.#onWriteError = onWriteError;
  }

  get store(): JobStore {
    return this.#store;
  }

  /** Takes in the unfinished jobs a previous process left in the store (oldest first). */
  async load(): Promise<JobRecord[]> {
    // Those a runner's hello brought in already (claimed through the fleet) are not taken twice.
    return (await this.#store.unfinished()).filter((job) => this.adopt(job));
  }

  /**
   * Takes in an unfinished job this gateway claimed from another (whose lease ran out), as the
   * store has it. False (and nothing changes) if the book has it already or it is finished.
   */
  adopt(job: JobRecord): boolean {
    if (this.#live.has(job.id) || !isUnfinished(job.status)) return false;
    this.#live.set(job.id, job);
    this.#count(job, job.status, 1);
    return true;
  }

  /**
   * Lets go of a queued job handed to another gateway (it owns it now): out of the book, with no
   * write (the handoff was the write). False if it is not a queued job here with its writes done.
   */
  forget(id: string): boolean {
    const job = this.#live.get(id);
    if (job?.status !== 'queued' || this.#writes.has(id)) return false;
    this.#count(job, job.status, -1);
    this.#live.delete(id);
    return true;
  }

  /**
   * Drops a job another gateway claimed while this one's lease had run out: its word counts now.
   * Writes still under way for it are refused by the store (it is not ours), and ignored here.
   */
  drop(id: string): boolean {
    const job = this.#live.get(id);
    if (job === undefined) return false;
    this.#count(job, job.status, -1);
    this.#live.delete(id);
    this.#writes.delete(id);
    return true;
  }

  /** Unfinished jobs in the book (their ids). */
  ids(): string[] {
    return [...this.#live.keys()];
  }

  /** A job in the book (unfinished, or finished with its last write under way). */
  get(id: string): JobRecord | undefined {
    return this.#live.get(id);
  }

  /** Any job: the book's, else the store's. */
  async find(id: string): Promise<JobRecord | undefined> {
    return this.#live.get(id) ?? (await this.#store.get(id));
  }

  /** Jobs waiting for a runner (offered ones included): admission's queue bound. */
  get queuedCount(): number {
    return this.#queued;
  }

  /** Queued and running jobs of one client: admission's per-client cap. */
  unfinishedOf(client: string): number {
    return this.#unfinishedByClient.get(client) ?? 0;
  }

  /** Running jobs per client: the scheduler's fair share. */
  get runningByClient(): ReadonlyMap<string, number> {
    return this.#runningByClient;
  }

  /**
   * Adds a new job. Resolves once it is durable (the store's insert resolved). An insert that
   * fails takes the job out of the book again: a job the store does not have is not run.
   */
  insert(job: JobRecord): Promise<void> {
    if (this.#live.has(job.id)) throw new Error(`job ${job.id} is already in the book`);
    this.#live.set(job.id, job);
    this.#count(job, job.status, 1);
    const write = this.#store.insert(job);
    this.#track(job, write, true);
    return write;
  }

  /** Changes a job's state (guarded) and fields at once; the store follows in the same order. */
  transition(id: string, to: JobState, patch: TransitionPatch = {}): JobRecord {
    const job = this.#live.get(id);
    if (job === undefined) throw new Error(`no unfinished job ${id}`);
    if (!canTransition(job.status, to)) throw new Error(`job ${id}: ${job.status} → ${to} is not allowed`);
    // A new record, never a change in place: records already handed out stay as they were.
    const next = transitioned(job, to, patch);
    this.#count(job, job.status, -1);
    this.#count(next, to, 1);
    this.#live.set(id, next);
    this.#track(next, this.#store.transition(id, to, patch));
    return next;
  }

  /** Resolves once every write of this job so far is durable. */
  async durable(id: string): Promise<void> {
    await this.#writes.get(id);
  }

  /** Resolves when every write so far is durable. */
  flush(): Promise<void> {
    return this.#store.flush();
  }

  #track(job: JobRecord, write: Promise<unknown>, insert = false): void {
    const tracked = write.then(
      () => {
        if (this.#writes.get(job.id) !== tracked) return;
        this.#writes.delete(job.id);
        // Finished and on disk: the store answers for it from now on.
        if (!isUnfinished(this.#live.get(job.id)?.status ?? 'done')) this.#live.delete(job.id);
      },
      (err: Error) => {
        if (this.#writes.get(job.id) === tracked) this.#writes.delete(job.id);
        if (insert) {
          const current = this.#live.get(job.id);
          if (current !== undefined) {
            this.#count(current, current.status, -1);
            this.#live.delete(job.id);
          }
          this.#onWriteError(err, job, false);
          return;
        }
        // Kept in the book, so this process still answers for it correctly.
        this.#onWriteError(err, job, true);
      },
    );
    this.#writes.set(job.id, tracked);
  }

  #count(job: JobRecord, state: JobState, delta: 1 | -1): void {
    if (state === 'queued') this.#queued += delta;
    if (job.client && isUnfinished(state)) bump(this.#unfinishedByClient, job.client, delta);
    if (job.client && state === 'running') bump(this.#runningByClient, job.client, delta);
  }
}

function bump(counts: Map<string, number>, key: string, delta: number): void {
  const next = (counts.get(key) ?? 0) + delta;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}
