// The donor's ledger while it runs (donor-ledger.ts has the data and the file): each job counted
// in memory the moment it ends, the file (`<dataDir>/ledger.json`) written a little later, once
// for a burst of short jobs, and on close.
import { join } from 'node:path';
import type { Clock, Timer } from '../gateway/scheduling/clock.js';
import { type Ledger, loadLedger, localDayKey, recordJob, rollDay, saveLedger } from './donor-ledger.js';

export const LEDGER_FILE = 'ledger.json';
/** The ledger is written this long after a job ended, and on close. */
export const LEDGER_SAVE_MS = 5000;

export class LedgerKeeper {
  readonly #path: string;
  readonly #clock: Clock;
  readonly #failed: (err: unknown) => void;
  #ledger: Ledger;
  #save: Timer | null = null;
  #writes: Promise<void> = Promise.resolve();

  private constructor(path: string, ledger: Ledger, clock: Clock, failed: (err: unknown) => void) {
    this.#path = path;
    this.#ledger = ledger;
    this.#clock = clock;
    this.#failed = failed;
  }

  /** The ledger in `dataDir` (an empty one when there is none; LedgerFileError when damaged). */
  static async open(dataDir: string, clock: Clock, failed: (err: unknown) => void): Promise<LedgerKeeper> {
    const path = join(dataDir, LEDGER_FILE);
    return new LedgerKeeper(path, await loadLedger(path), clock, failed);
  }

  /** The counts as of `now`: today's start from zero on a new local day. */
  on(now: number): Ledger {
    return rollDay(this.#ledger, localDayKey(new Date(now)));
  }

  /** One more job done now, which used `cpuMs` of CPU time; the file follows shortly. */
  record(cpuMs: number): void {
    const dayKey = localDayKey(new Date(this.#clock.now()));
    this.#ledger = recordJob(this.#ledger, { cpu_ms: cpuMs, dayKey });
    this.#save ??= this.#clock.after(LEDGER_SAVE_MS, () => void this.flush());
  }

  /** Writes the ledger now (after any write under way); a failure goes to `failed`. */
  flush(): Promise<void> {
    this.#save?.cancel();
    this.#save = null;
    const ledger = this.#ledger;
    this.#writes = this.#writes.then(() => saveLedger(this.#path, ledger)).catch(this.#failed);
    return this.#writes;
  }
}
