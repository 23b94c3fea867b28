// The job store as it was before the journal (gateway/store/lowdb-job-store.ts): every write
// rewrites the whole of data/jobs.json through lowdb. Kept only as the baseline bench/store.ts
// measures the journal against, in the same run; the gateway does not use it.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { DataFile } from 'lowdb/node';
import * as v from 'valibot';
import { describeIssues, type JobRecord, JobRecordSchema, type JobState } from '../shared/index.js';

const DataSchema = v.object({
  version: v.literal(1),
  jobs: v.array(JobRecordSchema),
});
type Data = v.InferOutput<typeof DataSchema>;

/** Which state may follow which. `running → queued` is a re-queue after an infrastructure failure. */
const TRANSITIONS: Record<JobState, readonly JobState[]> = {
  queued: ['running', 'failed', 'cancelled'],
  running: ['done', 'failed', 'cancelled', 'queued'],
  done: [],
  failed: [],
  cancelled: [],
};

export class StoreCorruptError extends Error {
  override name = 'StoreCorruptError';
}

const isUnfinished = (state: JobState) => state === 'queued' || state === 'running';

export class WholeFileJobStore {
  readonly file: string;
  readonly #db: Low<Data>;
  readonly #byId = new Map<string, JobRecord>();
  /** Indexes the admission checks read on every submission, kept current by every change. */
  #queued = 0;
  readonly #unfinishedByClient = new Map<string, number>();
  #writing: Promise<void> | null = null;
  #dirty = false;

  readonly #onWriteError: (err: Error) => void;

  constructor(dataDir: string, onWriteError: (err: Error) => void = () => {}) {
    this.#onWriteError = onWriteError;
    this.file = join(dataDir, 'jobs.json');
    // Compact JSON, not lowdb's pretty-printed default: every write rewrites the whole file, and
    // indentation doubles both its size and the time the event loop spends serialising it.
    const adapter = new DataFile<Data>(this.file, {
      parse: JSON.parse,
      stringify: (data) => JSON.stringify(data),
    });
    this.#db = new Low<Data>(adapter, { version: 1, jobs: [] });
  }

  /** Reads the data file. A damaged file stops here with a clear message; it is never replaced. */
  async open(): Promise<void> {
    await mkdir(join(this.file, '..'), { recursive: true });
    try {
      await this.#db.read();
    } catch (err) {
      throw new StoreCorruptError(
        `${this.file} is not valid JSON (${(err as Error).message}). Refusing to start with an empty store: ` +
          'repair or move the file away, then start again.',
      );
    }
    const parsed = v.safeParse(DataSchema, this.#db.data);
    if (!parsed.success) {
      const problems = describeIssues(parsed.issues)
        .slice(0, 3)
        .map((p) => `${p.path}: ${p.message}`);
      throw new StoreCorruptError(
        `${this.file} does not hold valid job records (${problems.join('; ')}). Refusing to start: ` +
          'repair or move the file away, then start again.',
      );
    }
    this.#db.data = parsed.output;
    this.#byId.clear();
    this.#queued = 0;
    this.#unfinishedByClient.clear();
    for (const job of parsed.output.jobs) {
      this.#byId.set(job.id, job);
      this.#count(job, job.status, 1);
    }
  }

  /** Jobs waiting for a runner (offered ones included). */
  get queuedCount(): number {
    return this.#queued;
  }

  /** Jobs of this client that are queued or running. */
  unfinishedOf(client: string): number {
    return this.#unfinishedByClient.get(client) ?? 0;
  }

  get size(): number {
    return this.#db.data.jobs.length;
  }

  get(id: string): JobRecord | undefined {
    return this.#byId.get(id);
  }

  /** Jobs that were not finished, oldest first: what a restarted gateway must pick up again. */
  unfinished(): JobRecord[] {
    return this.#db.data.jobs.filter((job) => job.status === 'queued' || job.status === 'running');
  }

  /** Finished jobs whose callback is still to be delivered: a restarted gateway resumes them. */
  pendingCallbacks(): JobRecord[] {
    return this.#db.data.jobs.filter((job) => !isUnfinished(job.status) && job.callback?.state === 'pending');
  }

  /** Jobs matching the filter, newest first, one page at a time. */
  list(
    filter: { task_id?: string; client?: string },
    offset: number,
    limit: number,
  ): { jobs: JobRecord[]; more: boolean } {
    const matching: JobRecord[] = [];
    const jobs = this.#db.data.jobs;
    // Walk from the newest; stop as soon as the page and one more are found.
    for (let i = jobs.length - 1; i >= 0 && matching.length <= offset + limit; i--) {
      const job = jobs[i]!;
      if (filter.task_id !== undefined && job.task_id !== filter.task_id) continue;
      if (filter.client !== undefined && job.client !== filter.client) continue;
      matching.push(job);
    }
    return { jobs: matching.slice(offset, offset + limit), more: matching.length > offset + limit };
  }

  insert(job: JobRecord): void {
    if (this.#byId.has(job.id)) throw new Error(`job ${job.id} already exists`);
    this.#db.data.jobs.push(job);
    this.#byId.set(job.id, job);
    this.#count(job, job.status, 1);
    this.#scheduleWrite();
  }

  /** Changes a job's state (guarded) and fields together. */
  transition(id: string, to: JobState, patch: Partial<JobRecord> = {}): JobRecord {
    const job = this.#byId.get(id);
    if (!job) throw new Error(`no job ${id}`);
    if (!TRANSITIONS[job.status].includes(to)) {
      throw new Error(`job ${id}: ${job.status} → ${to} is not allowed`);
    }
    this.#count(job, job.status, -1);
    Object.assign(job, patch, { status: to });
    this.#count(job, to, 1);
    this.#scheduleWrite();
    return job;
  }

  /** Changes fields other than the state (and the owner), in any state: e.g. callback delivery. */
  update(id: string, patch: Partial<Omit<JobRecord, 'status' | 'id' | 'client'>>): JobRecord | undefined {
    const job = this.#byId.get(id);
    if (!job) return undefined; // pruned meanwhile: nothing left to record on
    Object.assign(job, patch);
    this.#scheduleWrite();
    return job;
  }

  /**
   * Removes finished jobs that ended before `finishedBefore`, then the oldest finished ones past
   * `keep`. Queued and running jobs are never removed. Returns how many went.
   */
  prune(finishedBefore: Date, keep: number): number {
    const cutoff = finishedBefore.toISOString();
    const jobs = this.#db.data.jobs;
    const finished = jobs.filter((job) => !isUnfinished(job.status)).length;
    // Jobs are in creation order, so the first finished ones met are the oldest.
    let surplus = Math.max(0, finished - keep);
    const kept = jobs.filter((job) => {
      if (isUnfinished(job.status)) return true;
      const old = job.finished_at !== null && job.finished_at < cutoff;
      if (!old && surplus === 0) return true;
      if (surplus > 0) surplus--;
      this.#byId.delete(job.id);
      return false;
    });
    const removed = jobs.length - kept.length;
    if (removed > 0) {
      this.#db.data.jobs = kept;
      this.#scheduleWrite();
    }
    return removed;
  }

  /** Resolves when every change made so far is on disk. */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
    if (this.#dirty) {
      this.#scheduleWrite();
      await this.#writing;
    }
  }

  #count(job: JobRecord, state: JobState, delta: 1 | -1): void {
    if (state === 'queued') this.#queued += delta;
    if (job.client && isUnfinished(state)) {
      const next = (this.#unfinishedByClient.get(job.client) ?? 0) + delta;
      if (next > 0) this.#unfinishedByClient.set(job.client, next);
      else this.#unfinishedByClient.delete(job.client);
    }
  }

  #scheduleWrite(): void {
    this.#dirty = true;
    if (this.#writing) return;
    this.#writing = (async () => {
      // Let the current burst of changes finish, then write them all at once.
      await new Promise<void>((resolve) => setImmediate(resolve));
      try {
        while (this.#dirty) {
          this.#dirty = false;
          await this.#db.write();
        }
      } catch (err) {
        // Keep the changes marked dirty: the next change (or flush) tries again.
        this.#dirty = true;
        this.#onWriteError(err as Error);
      } finally {
        this.#writing = null;
      }
    })();
  }
}
