// Where every way of submitting a job meets (REST, the client socket, Piston): the checks a
// valid body still needs — a known language, limits under the maximums, a runner that could ever
// run it, room under the admission caps — then the job book and the queue.
import {
  type AsyncRequest,
  CodeexecError,
  findLanguage,
  type JobRecord,
  LANGUAGES,
  type LimitsInput,
  MAX_LIMITS,
  resolveLimits,
} from '../../shared/index.js';
import type { RunnerRegistry } from '../runners/runner-registry.js';
import { DEFAULT_DONOR_MAX, type DonorMax, effectiveTrust } from '../scheduling/donor-limits.js';
import { canEverRun, type SchedRunner, whyNotRun } from '../scheduling/scheduler.js';
import type { Admission } from './admission.js';
import type { Dispatcher } from './dispatcher.js';
import type { JobBook } from './job-book.js';
import { newJob } from './new-job.js';

export interface JobIntakeOptions {
  book: JobBook;
  dispatcher: Dispatcher;
  registry: RunnerRegistry;
  admission: Admission;
  /** What donors may be asked for: a job asking more can only wait for a trusted runner. */
  donorMax?: DonorMax;
}

export class JobIntake {
  readonly #o: JobIntakeOptions;
  /** Runners of the fleet's other gateways (as of their last beat): a job for them is taken here. */
  #elsewhere: () => readonly SchedRunner[] = () => [];

  constructor(options: JobIntakeOptions) {
    this.#o = options;
  }

  /** Where the runners of the fleet's other gateways are read (fleet-keeper.ts). */
  setRunnersElsewhere(elsewhere: () => readonly SchedRunner[]): void {
    this.#elsewhere = elsewhere;
  }

  /** Canonical name of a language: the table's, or one a connected runner offers. */
  resolveLanguage(name: string): string {
    const offered = this.#o.registry.languages();
    const known = findLanguage(name)?.name ?? (offered.has(name) ? name : undefined);
    if (known) return known;
    const names = [...new Set([...offered.keys(), ...LANGUAGES.map((lang) => lang.name)])].sort();
    throw new CodeexecError('unknown_language', `Unknown language "${name}". Known: ${names.join(', ')}`, {
      known: names,
    });
  }

  /**
   * Checks a schema-valid request, stores it and queues it. `client` (ClientAuth.identify) is
   * counted against the per-client cap. Returns the new record; `durable` resolves once it is on
   * disk (what a 202 waits for).
   */
  submit(
    request: AsyncRequest,
    interactive = false,
    client: string | null = null,
  ): { job: JobRecord; durable: Promise<void> } {
    const lang = this.resolveLanguage(request.lang);
    checkLimits(request.limits);
    checkLimits(request.compile_limits);
    const verify = request.verify;
    if (verify?.max_replicas !== undefined && verify.max_replicas < verify.quorum) {
      throw new CodeexecError(
        'invalid_request',
        `verify.max_replicas (${verify.max_replicas}) must be at least verify.quorum (${verify.quorum})`,
      );
    }
    if (verify !== undefined && interactive) {
      throw new CodeexecError(
        'invalid_request',
        'A verified job cannot be interactive: its replicas must all read the same input',
      );
    }
    this.#checkRunnable(lang, request);
    this.#o.admission.check(client);
    const job = newJob(request, { lang, interactive, client });
    const durable = this.#o.book.insert(job);
    this.#o.dispatcher.enqueue(job);
    return { job, durable };
  }

  /**
   * Stores an execution of a client session as queued, under the same caps as submit. It is not
   * queued for any runner: the session broker offers it when its session's turn comes.
   */
  submitToSession(
    request: AsyncRequest,
    interactive: boolean,
    client: string | null,
    sessionId: string,
  ): JobRecord {
    if (request.verify !== undefined) {
      throw new CodeexecError(
        'invalid_request',
        'An execution in a session cannot be verified: it has one sandbox',
      );
    }
    this.#o.admission.check(client);
    const job = newJob(request, { lang: request.lang, interactive, client, sessionId });
    void this.#o.book.insert(job).catch(() => {}); // a failed write is reported by the book
    return job;
  }

  /**
   * The request of an execution in a session, checked: its language (optional) must be the
   * session's, its limits default to the session's field by field, and it cannot change the
   * sandbox's memory_bytes or pids (those are the session's, fixed when it opened).
   */
  sessionRequest(
    session: { lang: string; limits: LimitsInput | null },
    request: Omit<AsyncRequest, 'lang'> & { lang?: string | undefined },
  ): AsyncRequest {
    if (request.lang !== undefined && this.resolveLanguage(request.lang) !== session.lang) {
      throw new CodeexecError(
        'invalid_request',
        `The session runs ${session.lang}; an execution in it cannot be ${request.lang}`,
      );
    }
    for (const key of ['memory_bytes', 'pids'] as const) {
      const asked = request.limits?.[key];
      if (asked !== undefined && asked !== session.limits?.[key]) {
        throw new CodeexecError(
          'invalid_request',
          `limits.${key} is the session's sandbox's (set it in session_open), not an execution's`,
        );
      }
    }
    const limits = { ...session.limits, ...request.limits };
    checkLimits(limits);
    checkLimits(request.compile_limits);
    return { ...request, lang: session.lang, limits };
  }

  /**
   * A job for a language no connected runner offers or builds would only wait out its queue
   * timeout: refuse it now, unless the client asked to wait (queue_timeout_ms).
   */
  #checkRunnable(lang: string, request: AsyncRequest): void {
    if (request.queue_timeout_ms !== undefined) return;
    const trust = effectiveTrust(
      {
        trust: request.trust ?? 'any',
        limits: request.limits ?? null,
        compile_limits: request.compile_limits ?? null,
      },
      this.#o.donorMax ?? DEFAULT_DONOR_MAX,
    );
    const placement = { lang, labels: request.labels ?? [], refusedBy: [], trust };
    if (canEverRun(placement, this.#o.registry.views()) !== 'no') return;
    // Another gateway's runners can: it waits here until it is handed there (fleet/handoff.ts).
    if (canEverRun(placement, this.#elsewhere()) !== 'no') return;
    const error = whyNotRun({ ...placement, attempt: 0 }, null);
    throw new CodeexecError('no_runner', error.message, { lang, labels: placement.labels });
  }
}

/** Requests above the maximums are refused here; the runner clamps again with its own caps. */
export function checkLimits(limits: LimitsInput | undefined): void {
  const { tooHigh } = resolveLimits(limits);
  if (tooHigh.length === 0) return;
  const detail = tooHigh.map((key) => `${key} (max ${MAX_LIMITS[key]})`).join(', ');
  throw new CodeexecError('limit_exceeded', `Limits above the maximum: ${detail}`, { limits: tooHigh });
}
