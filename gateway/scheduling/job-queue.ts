// The jobs waiting for a runner: their ids in order, each with a timer that fires once it has
// waited timeoutMs (the dispatcher then decides whether that is too long). In memory here; the
// seam a shared queue (Redis, NATS) would fill for gateways past one process.
export class JobQueue {
  readonly #ids: string[] = [];
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #timeoutMs: number;
  readonly #onTimeout: (id: string) => void;

  constructor(timeoutMs: number, onTimeout: (id: string) => void) {
    this.#timeoutMs = timeoutMs;
    this.#onTimeout = onTimeout;
  }

  /**
   * Queues a job: at the back, or at the front for one that was offered or running already.
   * A job that is back keeps the timer of its first wait.
   */
  add(id: string, front = false): void {
    if (front) this.#ids.unshift(id);
    else this.#ids.push(id);
    if (!this.#timers.has(id)) this.#arm(id);
  }

  /** Takes it out of the order (it is being offered); its timer runs on. */
  take(id: string): void {
    const index = this.#ids.indexOf(id);
    if (index !== -1) this.#ids.splice(index, 1);
  }

  /** Forgets it: out of the order, its timer stopped (it runs, or ended). */
  drop(id: string): void {
    this.take(id);
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
  }

  /** Whether it waits in the order now (not offered, not running). */
  has(id: string): boolean {
    return this.#ids.includes(id);
  }

  /** Gives it another timeoutMs (a backlog, not an outage). */
  rearm(id: string): void {
    clearTimeout(this.#timers.get(id));
    this.#arm(id);
  }

  /** The waiting ids in order: a copy, so the caller may take from the queue while it walks it. */
  ids(): string[] {
    return [...this.#ids];
  }

  close(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  #arm(id: string): void {
    const timer = setTimeout(() => {
      this.#timers.delete(id);
      this.#onTimeout(id);
    }, this.#timeoutMs);
    timer.unref();
    this.#timers.set(id, timer);
  }
}
