// Where every way of submitting a job meets (REST, the client socket, Piston): the checks a
// valid body still needs — a known language, limits under the maximums — then the queue.
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
import type { RunnerHub } from '../runners/runner-hub.js';
import type { Dispatcher } from './dispatcher.js';

export class JobIntake {
  readonly #dispatcher: Dispatcher;
  readonly #hub: RunnerHub;

  constructor(dispatcher: Dispatcher, hub: RunnerHub) {
    this.#dispatcher = dispatcher;
    this.#hub = hub;
  }

  /** Canonical name of a language: the table's, or one a connected runner offers. */
  resolveLanguage(name: string): string {
    const offered = this.#hub.languages();
    const known = findLanguage(name)?.name ?? (offered.has(name) ? name : undefined);
    if (known) return known;
    const names = [...new Set([...offered.keys(), ...LANGUAGES.map((lang) => lang.name)])].sort();
    throw new CodeexecError('unknown_language', `Unknown language "${name}". Known: ${names.join(', ')}`, {
      known: names,
    });
  }

  /**
   * Checks a schema-valid request and queues it. `client` (ClientAuth.identify) is counted
   * against the per-client cap; the dispatcher also refuses past the queue bound.
   */
  submit(request: AsyncRequest, interactive = false, client: string | null = null): JobRecord {
    const lang = this.resolveLanguage(request.lang);
    checkLimits(request.limits);
    checkLimits(request.compile_limits);
    return this.#dispatcher.submit(request, lang, interactive, client);
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
}

/** Requests above the maximums are refused here; the runner clamps again with its own caps. */
export function checkLimits(limits: LimitsInput | undefined): void {
  const { tooHigh } = resolveLimits(limits);
  if (tooHigh.length === 0) return;
  const detail = tooHigh.map((key) => `${key} (max ${MAX_LIMITS[key]})`).join(', ');
  throw new CodeexecError('limit_exceeded', `Limits above the maximum: ${detail}`, { limits: tooHigh });
}
