// Whether the Docker engine answers. The runner waits for it at start; while it does not, the
// embedder hears why and how to fix it (`engine.missing`), and the runner tries again with backoff
// instead of crashing (Docker Desktop may simply not be started yet). After start, a job that
// failed in its sandbox makes it look again, so an engine that went away is reported too.

export type EngineState = 'unknown' | 'reachable' | 'missing';

export interface EngineWatchOptions {
  /** Resolves when the engine answers; rejects with an Error that says how to fix it. */
  ping: () => Promise<void>;
  /** The engine does not answer; the next try is in `retryMs`. */
  missing: (message: string, retryMs: number) => void;
  /** The engine answers again after it was missing. */
  found: () => void;
  minRetryMs?: number;
  maxRetryMs?: number;
}

export class EngineWatch {
  readonly #options: EngineWatchOptions;
  #state: EngineState = 'unknown';
  #failures = 0;
  #checking = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #waiters: { resolve: () => void; reject: (err: Error) => void }[] = [];

  constructor(options: EngineWatchOptions) {
    this.#options = options;
  }

  get state(): EngineState {
    return this.#state;
  }

  /** Resolves once the engine answers (at once if it did last time); rejects if closed first. */
  reachable(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the runner is closing'));
    if (this.#state === 'reachable') return Promise.resolve();
    const waiting = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#timer === undefined) void this.#check();
    return waiting;
  }

  /** Something failed in a sandbox: check the engine now, in the background. */
  suspect(): void {
    if (this.#state === 'reachable') void this.#check();
  }

  /** Stops retrying; whoever waits for the engine is told the runner is closing. Idempotent. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const closing = new Error('the runner is closing');
    for (const waiter of this.#waiters.splice(0)) waiter.reject(closing);
  }

  async #check(): Promise<void> {
    if (this.#checking || this.#closed) return;
    this.#checking = true;
    this.#timer = undefined;
    let failure: Error | null = null;
    try {
      await this.#options.ping();
    } catch (err) {
      failure = err as Error;
    } finally {
      this.#checking = false;
    }
    if (this.#closed) return;
    if (failure === null) {
      const was = this.#state;
      this.#state = 'reachable';
      this.#failures = 0;
      if (was === 'missing') this.#options.found();
      for (const waiter of this.#waiters.splice(0)) waiter.resolve();
      return;
    }
    this.#state = 'missing';
    const min = this.#options.minRetryMs ?? 1000;
    const delay = Math.min(this.#options.maxRetryMs ?? 30_000, min * 2 ** this.#failures++);
    this.#timer = setTimeout(() => void this.#check(), delay);
    this.#options.missing(failure.message, delay);
  }
}
