// Retention: finished jobs are removed once older than the age limit, and past the count limit
// (oldest first), so the store stays small.
// Queued and running jobs are never removed.
import type { Logger } from '../../shared/index.js';
import type { JobStore } from '../store/job-store-api.js';

export interface RetentionOptions {
  store: JobStore;
  log: Logger;
  /** Finished jobs kept at most. */
  maxJobs: number;
  /** Finished jobs older than this (since they ended) are removed. */
  maxAgeMs: number;
  /** How often to sweep. */
  intervalMs: number;
}

export class Retention {
  readonly #options: RetentionOptions;
  #timer: NodeJS.Timeout | null = null;

  constructor(options: RetentionOptions) {
    this.#options = options;
  }

  /** Sweeps now, then every intervalMs until stop(). */
  start(): void {
    if (this.#timer) return;
    void this.sweep();
    this.#timer = setInterval(() => void this.sweep(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Removes what is past the limits as of `now`; returns how many jobs went. */
  async sweep(now: Date = new Date()): Promise<number> {
    const { store, maxJobs, maxAgeMs, log } = this.#options;
    try {
      const removed = await store.prune(new Date(now.getTime() - maxAgeMs), maxJobs);
      if (removed > 0) log.info({ removed, kept: await store.size() }, 'retention removed finished jobs');
      return removed;
    } catch (err) {
      log.error({ err }, 'retention could not prune the store');
      return 0;
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
