// A JobStore that keeps everything in memory and persists nothing: for unit tests of what sits
// above the store seam (the dispatcher, admission, routes) and for a throwaway gateway. It passes
// the same conformance suite as the real stores, except the tests of surviving a reopen.
import type { JobRecord, JobState } from '../../shared/index.js';
import type { JobFilter, JobPage, JobStore, TransitionPatch, UpdatePatch } from './job-store-api.js';
import { canTransition, isUnfinished } from './job-transitions.js';
import { checkedRecord, transitioned, updated } from './record-patch.js';
import { StoreError } from './store-errors.js';

export class MemoryJobStore implements JobStore {
  readonly #jobs = new Map<string, JobRecord>();
  #closed = false;

  async open(): Promise<void> {}

  async close(): Promise<void> {
    this.#closed = true;
  }

  async flush(): Promise<void> {}

  async insert(job: JobRecord): Promise<void> {
    this.#open();
    if (this.#jobs.has(job.id)) throw new StoreError('duplicate_id', `job ${job.id} is already stored`);
    this.#jobs.set(job.id, checkedRecord(job));
  }

  async transition(id: string, to: JobState, patch: TransitionPatch = {}): Promise<JobRecord> {
    this.#open();
    const job = this.#need(id);
    if (!canTransition(job.status, to)) {
      throw new StoreError('forbidden_transition', `job ${id}: ${job.status} → ${to} is not allowed`);
    }
    const next = checkedRecord(transitioned(job, to, patch));
    this.#jobs.set(id, next);
    return next;
  }

  async update(id: string, patch: UpdatePatch): Promise<JobRecord | undefined> {
    this.#open();
    const job = this.#jobs.get(id);
    if (job === undefined) return undefined;
    const next = checkedRecord(updated(job, patch));
    this.#jobs.set(id, next);
    return next;
  }

  async prune(finishedBefore: Date, keep: number): Promise<number> {
    this.#open();
    const cutoff = finishedBefore.toISOString();
    const finished = [...this.#jobs.values()].filter((job) => !isUnfinished(job.status));
    let surplus = Math.max(0, finished.length - keep);
    let removed = 0;
    for (const job of finished) {
      const old = job.finished_at !== null && job.finished_at < cutoff;
      if (!old && surplus === 0) continue;
      if (surplus > 0) surplus--;
      this.#jobs.delete(job.id);
      removed++;
    }
    return removed;
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return this.#jobs.get(id);
  }

  async list(filter: JobFilter, offset: number, limit: number): Promise<JobPage> {
    const matching = [...this.#jobs.values()]
      .reverse()
      .filter((job) => filter.task_id === undefined || job.task_id === filter.task_id)
      .filter((job) => filter.client === undefined || job.client === filter.client);
    return { jobs: matching.slice(offset, offset + limit), more: matching.length > offset + limit };
  }

  async unfinished(): Promise<JobRecord[]> {
    return [...this.#jobs.values()].filter((job) => isUnfinished(job.status));
  }

  async pendingCallbacks(): Promise<JobRecord[]> {
    return [...this.#jobs.values()].filter(
      (job) => !isUnfinished(job.status) && job.callback?.state === 'pending',
    );
  }

  async size(): Promise<number> {
    return this.#jobs.size;
  }

  async queuedCount(): Promise<number> {
    return [...this.#jobs.values()].filter((job) => job.status === 'queued').length;
  }

  async unfinishedOf(client: string): Promise<number> {
    return [...this.#jobs.values()].filter((job) => job.client === client && isUnfinished(job.status)).length;
  }

  #need(id: string): JobRecord {
    const job = this.#jobs.get(id);
    if (job === undefined) throw new StoreError('not_found', `no job ${id}`);
    return job;
  }

  #open(): void {
    if (this.#closed) throw new StoreError('closed', 'the store is closed');
  }
}
