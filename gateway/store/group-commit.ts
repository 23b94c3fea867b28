// Group commit: lines added during one turn of the event loop (and while an append is under way)
// go to the disk in one append, and every caller of that batch learns together that it is there.
// One append at a time, in the order lines were added.

export interface GroupCommitOptions {
  /** Writes a batch; resolves when it is as durable as the store promises. */
  append: (text: string) => Promise<void>;
  /** Runs after each append, before the next: the only moment nothing is being appended. */
  between: () => Promise<void>;
  /** Turns the error of a failed append (or `between`) into the failure every later add gets. */
  failure: (err: Error) => Error;
}

interface Batch {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class GroupCommit {
  readonly #options: GroupCommitOptions;
  #lines: string[] = [];
  /** The batch being gathered; null when none. */
  #batch: Batch | null = null;
  /** The newest batch: batches complete in order, so it settles after every earlier one. */
  #last: Promise<void> = Promise.resolve();
  #draining: Promise<void> | null = null;
  #failure: Error | null = null;
  #batches = 0;
  #lineCount = 0;

  constructor(options: GroupCommitOptions) {
    this.#options = options;
  }

  /** Set once an append failed: nothing is appended after it. */
  get failure(): Error | null {
    return this.#failure;
  }

  /** Appends so far, and the lines they carried. */
  get counts(): { batches: number; lines: number } {
    return { batches: this.#batches, lines: this.#lineCount };
  }

  /** Adds a whole line; resolves when its batch is appended. Call only while `failure` is null. */
  add(line: string): Promise<void> {
    this.#lines.push(line);
    if (this.#batch) return this.#batch.promise;
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A failure is reported by every later add too: a caller that did not await its write must not
    // crash the process with an unhandled rejection.
    promise.catch(() => {});
    this.#batch = { promise, resolve, reject };
    this.#last = promise;
    this.#draining ??= this.#drain();
    return promise;
  }

  /** Settles when every line added so far is appended (rejects if that failed). */
  flush(): Promise<void> {
    return this.#last;
  }

  /** Resolves when nothing is being appended and `between` is done. */
  async idle(): Promise<void> {
    await this.#draining;
  }

  async #drain(): Promise<void> {
    // Let the current turn's burst of writes join the first batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.#batch && !this.#failure) {
      const batch = this.#batch;
      const text = this.#lines.join('');
      this.#lineCount += this.#lines.length;
      this.#lines = [];
      this.#batch = null;
      try {
        await this.#options.append(text);
        this.#batches++;
        batch.resolve();
        await this.#options.between();
      } catch (err) {
        this.#fail(err as Error, batch);
      }
    }
    this.#draining = null;
  }

  /** Rejects the failed batch and the one gathered meanwhile, which will never be appended. */
  #fail(err: Error, failed: Batch): void {
    const failure = this.#options.failure(err);
    this.#failure = failure;
    failed.reject(failure);
    this.#batch?.reject(failure);
    this.#batch = null;
    this.#lines = [];
  }
}
