// The job store: every job from the moment it is accepted, in lowdb (data/jobs.json).
// The only file that imports lowdb. A seam for PostgreSQL later: the gateway uses only the
// methods of JobStore. Writes are coalesced (many changes, one write) and atomic (lowdb writes a
// temporary file and renames it, so a crash mid-write leaves the last good file).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
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

export class JobStore {
  readonly file: string;
  readonly #db: Low<Data>;
  readonly #byId = new Map<string, JobRecord>();
  #writing: Promise<void> | null = null;
  #dirty = false;

  readonly #onWriteError: (err: Error) => void;

  constructor(dataDir: string, onWriteError: (err: Error) => void = () => {}) {
    this.#onWriteError = onWriteError;
    this.file = join(dataDir, 'jobs.json');
    this.#db = new Low<Data>(new JSONFile<Data>(this.file), { version: 1, jobs: [] });
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
    for (const job of parsed.output.jobs) this.#byId.set(job.id, job);
  }

  get(id: string): JobRecord | undefined {
    return this.#byId.get(id);
  }

  /** Jobs that were not finished, oldest first: what a restarted gateway must pick up again. */
  unfinished(): JobRecord[] {
    return this.#db.data.jobs.filter((job) => job.status === 'queued' || job.status === 'running');
  }

  /** Jobs matching the filter, newest first, one page at a time. */
  list(filter: { task_id?: string }, offset: number, limit: number): { jobs: JobRecord[]; more: boolean } {
    const matching: JobRecord[] = [];
    const jobs = this.#db.data.jobs;
    // Walk from the newest; stop as soon as the page and one more are found.
    for (let i = jobs.length - 1; i >= 0 && matching.length <= offset + limit; i--) {
      const job = jobs[i]!;
      if (filter.task_id === undefined || job.task_id === filter.task_id) matching.push(job);
    }
    return { jobs: matching.slice(offset, offset + limit), more: matching.length > offset + limit };
  }

  insert(job: JobRecord): void {
    if (this.#byId.has(job.id)) throw new Error(`job ${job.id} already exists`);
    this.#db.data.jobs.push(job);
    this.#byId.set(job.id, job);
    this.#scheduleWrite();
  }

  /** Changes a job's state (guarded) and fields together. */
  transition(id: string, to: JobState, patch: Partial<JobRecord> = {}): JobRecord {
    const job = this.#byId.get(id);
    if (!job) throw new Error(`no job ${id}`);
    if (!TRANSITIONS[job.status].includes(to)) {
      throw new Error(`job ${id}: ${job.status} → ${to} is not allowed`);
    }
    Object.assign(job, patch, { status: to });
    this.#scheduleWrite();
    return job;
  }

  /** Resolves when every change made so far is on disk. */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
    if (this.#dirty) {
      this.#scheduleWrite();
      await this.#writing;
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
