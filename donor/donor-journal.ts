// The donor's own account of what happened, for its owner: every line goes to the process's
// logger, and the last ones (50) are kept for the status (`status.log`: the tray's "recent
// activity", `codeexec donor status`).
import type * as v from 'valibot';
import type { DonorLogEntrySchema } from '../shared/donor.js';
import type { Logger, LogLevel } from '../shared/index.js';

export type DonorLogEntry = v.InferOutput<typeof DonorLogEntrySchema>;

export const JOURNAL_SIZE = 50;

export class DonorJournal {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #size: number;
  #entries: DonorLogEntry[] = [];

  constructor(log: Logger, now: () => number, size = JOURNAL_SIZE) {
    this.#log = log;
    this.#now = now;
    this.#size = size;
  }

  /** Logs `msg` (with `fields` for the process log) and keeps it for the status. */
  add(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    this.#log[level](fields, msg);
    this.#entries.push({ at: this.#now(), level, msg });
    if (this.#entries.length > this.#size) this.#entries = this.#entries.slice(-this.#size);
  }

  /** The kept entries, oldest first. */
  get entries(): DonorLogEntry[] {
    return [...this.#entries];
  }
}
