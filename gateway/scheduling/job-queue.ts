// The jobs waiting for a runner: their ids in order, each with a timer that fires once it has
// waited its queue timeout (the dispatcher then asks the scheduler whether to keep waiting).
// Jobs that come back (offered or running, then lost) go to the front and are marked requeued.
import type { Clock, Timer } from './clock.js';

export interface QueueEntry {
  id: string;
  /** It was offered or running before: the scheduler serves it first. */
  requeued: boolean;
}

export class JobQueue {
  #entries: QueueEntry[] = [];
  readonly #timers = new Map<string, Timer>();
  readonly #clock: Clock;
  readonly #onTimeout: (id: string) => void;

  constructor(clock: Clock, onTimeout: (id: string) => void) {
    this.#clock = clock;
    this.#onTimeout = onTimeout;
  }

  get size(): number {
    return this.#entries.length;
  }

  /**
   * Queues a job: at the back, or at the front for one that was offered or running already.
   * A job that is back keeps the timer of its first wait; `timeoutMs` arms one if it has none.
   */
  add(id: string, timeoutMs: number, front = false): void {
    if (this.has(id)) return;
    if (front) this.#entries.unshift({ id, requeued: true });
    else this.#entries.push({ id, requeued: false });
    if (!this.#timers.has(id)) this.#arm(id, timeoutMs);
  }

  /** Takes it out of the order (it is being offered); its timer runs on. */
  take(id: string): void {
    const index = this.#entries.findIndex((entry) => entry.id === id);
    if (index !== -1) this.#entries.splice(index, 1);
  }

  /** Takes many out of the order at once (one pass, for a scheduling plan). */
  takeAll(ids: ReadonlySet<string>): void {
    if (ids.size > 0) this.#entries = this.#entries.filter((entry) => !ids.has(entry.id));
  }

  /** Forgets it: out of the order, its timer stopped (it runs, or ended). */
  drop(id: string): void {
    this.take(id);
    this.#timers.get(id)?.cancel();
    this.#timers.delete(id);
  }

  /** Whether it waits in the order now (not offered, not running). */
  has(id: string): boolean {
    return this.#entries.some((entry) => entry.id === id);
  }

  /** Gives it another wait (a backlog, not an outage). */
  rearm(id: string, timeoutMs: number): void {
    this.#timers.get(id)?.cancel();
    this.#arm(id, timeoutMs);
  }

  /** The waiting jobs in order (a copy: the caller may change the queue while it walks it). */
  entries(): QueueEntry[] {
    return [...this.#entries];
  }

  close(): void {
    for (const timer of this.#timers.values()) timer.cancel();
    this.#timers.clear();
  }

  #arm(id: string, timeoutMs: number): void {
    this.#timers.set(
      id,
      this.#clock.after(timeoutMs, () => {
        this.#timers.delete(id);
        this.#onTimeout(id);
      }),
    );
  }
}
