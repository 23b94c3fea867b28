// Whether one more job may be accepted: a bounded queue for everyone, a cap per client.
// Both read the job book's live counts, so a restarted gateway enforces them on what it recovered;
// with a fleet, the other gateways' jobs count too (as of this gateway's last beat).
import { CodeexecError } from '../../shared/index.js';
import { NO_USAGE, type UsageElsewhere } from '../fleet/fleet.js';
import type { JobBook } from './job-book.js';

export interface AdmissionLimits {
  /** Jobs waiting for a runner, all clients together (0: no bound). */
  maxQueue: number;
  /** Jobs queued or running per client: an API key, or an address without keys (0: no cap). */
  maxPerClient: number;
}

export class Admission {
  readonly #book: JobBook;
  readonly #limits: AdmissionLimits;
  #elsewhere: () => UsageElsewhere = () => NO_USAGE;

  constructor(book: JobBook, limits: AdmissionLimits) {
    this.#book = book;
    this.#limits = limits;
  }

  /** Where the other gateways' counts are read (fleet-keeper.ts). */
  setElsewhere(elsewhere: () => UsageElsewhere): void {
    this.#elsewhere = elsewhere;
  }

  /** Throws too_many_jobs (429) or queue_full (503); the client's own cap is checked first. */
  check(client: string | null): void {
    const { maxQueue, maxPerClient } = this.#limits;
    const elsewhere = this.#elsewhere();
    const ofClient =
      client === null ? 0 : this.#book.unfinishedOf(client) + (elsewhere.byClient.get(client) ?? 0);
    if (client !== null && maxPerClient > 0 && ofClient >= maxPerClient) {
      throw new CodeexecError(
        'too_many_jobs',
        `This client already has ${maxPerClient} jobs queued or running (CODEEXEC_MAX_JOBS_PER_KEY); ` +
          'wait for one to finish',
        { max: maxPerClient },
      );
    }
    if (maxQueue > 0 && this.#book.queuedCount + elsewhere.queued >= maxQueue) {
      throw new CodeexecError(
        'queue_full',
        `The queue already holds ${maxQueue} jobs (CODEEXEC_MAX_QUEUE); try again later`,
        { max: maxQueue },
      );
    }
  }
}
