// The jobs of an in-memory store, in creation order, with the indexes its reads need kept current
// by every change: by id, the unfinished ones, and the counts admission reads on every submission.
// Pure and synchronous: LowdbJobStore applies both live writes and replayed ones through it.
import type { JobRecord } from '../../shared/index.js';
import type { JobFilter, JobPage } from './job-store-api.js';
import { isUnfinished } from './job-transitions.js';

export class JobTable {
  /** A Map keeps insertion order and a replaced value keeps its place: creation order. */
  readonly #byId = new Map<string, JobRecord>();
  /** Ids in creation order for walking backwards (list); rebuilt lazily after removals. */
  #ids: string[] | null = [];
  /** Queued and running ids; jobs only become unfinished when inserted, so this is oldest first. */
  readonly #unfinished = new Set<string>();
  #queued = 0;
  readonly #unfinishedByClient = new Map<string, number>();

  get size(): number {
    return this.#byId.size;
  }

  get queuedCount(): number {
    return this.#queued;
  }

  unfinishedOf(client: string): number {
    return this.#unfinishedByClient.get(client) ?? 0;
  }

  get(id: string): JobRecord | undefined {
    return this.#byId.get(id);
  }

  /** Inserts a job, or replaces the stored one of that id in its place. */
  put(job: JobRecord): void {
    const old = this.#byId.get(job.id);
    if (old) this.#count(old, -1);
    else this.#ids?.push(job.id);
    this.#byId.set(job.id, job);
    this.#count(job, 1);
    if (isUnfinished(job.status)) this.#unfinished.add(job.id);
    else this.#unfinished.delete(job.id);
  }

  delete(id: string): boolean {
    const old = this.#byId.get(id);
    if (!old) return false;
    this.#count(old, -1);
    this.#byId.delete(id);
    this.#unfinished.delete(id);
    this.#ids = null;
    return true;
  }

  /** Every job, oldest first: a consistent view as long as records are never mutated in place. */
  all(): JobRecord[] {
    return [...this.#byId.values()];
  }

  unfinished(): JobRecord[] {
    return [...this.#unfinished].map((id) => this.#byId.get(id)!);
  }

  pendingCallbacks(): JobRecord[] {
    return this.all().filter((job) => !isUnfinished(job.status) && job.callback?.state === 'pending');
  }

  list(filter: JobFilter, offset: number, limit: number): JobPage {
    this.#ids ??= [...this.#byId.keys()];
    const ids = this.#ids;
    const matching: JobRecord[] = [];
    // Walk from the newest; stop as soon as the page and one more are found.
    for (let i = ids.length - 1; i >= 0 && matching.length <= offset + limit; i--) {
      const job = this.#byId.get(ids[i]!)!;
      if (filter.task_id !== undefined && job.task_id !== filter.task_id) continue;
      if (filter.client !== undefined && job.client !== filter.client) continue;
      matching.push(job);
    }
    return { jobs: matching.slice(offset, offset + limit), more: matching.length > offset + limit };
  }

  /**
   * The ids prune removes: finished jobs that ended before `cutoff` (ISO time), and the oldest
   * finished ones past `keep`. An old job removed also counts against the surplus, as it always has.
   */
  prunable(cutoff: string, keep: number): string[] {
    let surplus = Math.max(0, this.#byId.size - this.#unfinished.size - keep);
    const victims: string[] = [];
    for (const job of this.#byId.values()) {
      if (isUnfinished(job.status)) continue;
      const old = job.finished_at !== null && job.finished_at < cutoff;
      if (!old && surplus === 0) continue;
      if (surplus > 0) surplus--;
      victims.push(job.id);
    }
    return victims;
  }

  #count(job: JobRecord, delta: 1 | -1): void {
    if (job.status === 'queued') this.#queued += delta;
    if (job.client && isUnfinished(job.status)) {
      const next = (this.#unfinishedByClient.get(job.client) ?? 0) + delta;
      if (next > 0) this.#unfinishedByClient.set(job.client, next);
      else this.#unfinishedByClient.delete(job.client);
    }
  }
}
