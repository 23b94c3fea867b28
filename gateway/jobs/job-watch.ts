// Following a job to its end, wherever it runs: a job this gateway holds is followed on JobEvents
// as it changes; one that ended is answered from the store; one this gateway does not hold — it
// ended, never was, or (with a store and a bus shared by several gateways) it is another
// gateway's — is followed on the bus, with the store asked once the subscription is in effect.
import { CodeexecError, type JobRecord, type Logger } from '../../shared/index.js';
import type { Bus } from '../bus/bus.js';
import type { JobEvents, Watcher } from '../events/job-events.js';
import { isUnfinished } from '../store/job-transitions.js';
import type { JobBook } from './job-book.js';

/** How often the store is asked again about a job followed on another gateway (see #elsewhere). */
const ELSEWHERE_RECHECK_MS = 10_000;

export function isFinished(job: JobRecord): boolean {
  return !isUnfinished(job.status);
}

export interface JobWatchParts {
  book: JobBook;
  events: JobEvents;
  bus: Bus;
  log: Logger;
}

export class JobWatch {
  readonly #o: JobWatchParts;

  constructor(parts: JobWatchParts) {
    this.#o = parts;
  }

  /** Resolves with the job once it is done, failed or cancelled. */
  async wait(id: string): Promise<JobRecord> {
    const job = await this.#o.book.find(id);
    if (!job) throw new CodeexecError('not_found', `no job ${id}`);
    if (isFinished(job)) return job;
    return new Promise((resolve) => this.watch(id, { end: resolve }));
  }

  /** Follows a job until it ends. Returns the function that stops following it. */
  watch(id: string, watcher: Watcher): () => void {
    const job = this.#o.book.get(id);
    if (job !== undefined && !isFinished(job)) return this.#o.events.watch(id, watcher);
    if (job !== undefined) {
      // It ended here; the store has its last word.
      void this.#o.book.find(id).then((found) => found && watcher.end(found));
      return () => {};
    }
    return this.#elsewhere(id, watcher);
  }

  /**
   * A job this process does not hold: it ended, or never was, or (with a store and a bus shared
   * by several gateways) it is another gateway's. Its events are followed on the bus, and the
   * store is asked once the subscription is in effect everywhere: a job that ended before then is
   * ended from the store, one that ends after is heard of on the bus. A store that is slower to
   * show the end than the bus to carry it could leave a gap between the two, so the store is
   * asked again now and then while the job seems unfinished (a backstop, not the main path).
   */
  #elsewhere(id: string, watcher: Watcher): () => void {
    let over = false;
    let timer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      over = true;
      clearTimeout(timer);
      unsubscribe();
    };
    const end = (job: JobRecord): void => {
      if (over) return;
      stop();
      watcher.end(job);
    };
    const unsubscribe = this.#o.events.watch(id, { ...watcher, end });
    const ask = (): void => {
      void this.#o.book.find(id).then(
        (found) => {
          if (over) return;
          // Never was (or pruned): nothing will come.
          if (found === undefined) stop();
          else if (isFinished(found)) end(found);
          else timer = setTimeout(ask, ELSEWHERE_RECHECK_MS).unref();
        },
        (err: unknown) => {
          this.#o.log.warn({ job_id: id, err }, 'watching a job: the store did not answer');
          if (!over) timer = setTimeout(ask, ELSEWHERE_RECHECK_MS).unref();
        },
      );
    };
    void this.#o.bus.flush().then(ask, ask);
    return stop;
  }
}
