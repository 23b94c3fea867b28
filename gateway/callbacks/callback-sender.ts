// Callbacks: when a job with a callback_url ends, its record is POSTed there as JSON, in the
// background (never on the dispatcher's path), with bounded retries and exponential backoff.
// Each attempt is recorded on the job (`callback`), so a restarted gateway resumes what is pending.
import { createHmac } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CallbackDelivery, JobRecord, Logger } from '../../shared/index.js';
import type { JobStore } from '../store/job-store-api.js';
import { type CallbackGuard, isCallbackForbidden } from './callback-guard.js';

export interface CallbackOptions {
  store: JobStore;
  log: Logger;
  /** Where a callback may connect: checked again at each attempt, on the addresses connected to. */
  guard: CallbackGuard;
  /** Attempts per job, all restarts together. */
  attempts: number;
  /** Wait before the second attempt; doubles each time, up to maxDelayMs. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** Each attempt gives up after this long. */
  timeoutMs: number;
  /** With a secret, each POST carries `X-Codeexec-Signature: sha256=<hex HMAC of the body>`. */
  secret: string | null;
  userAgent: string;
  /** Each attempt's outcome (metrics). */
  onAttempt?: (result: 'delivered' | 'retry' | 'failed') => void;
}

/** `stopped`: close() cut the attempt short; it does not count, and the next start redoes it. */
type Outcome = { ok: true } | { ok: false; error: string; permanent: boolean } | { stopped: true };

/** Statuses worth another try: the target is overloaded or briefly broken, not refusing. */
const RETRYABLE = (status: number) => status === 408 || status === 429 || status >= 500;

/** Events: `attempt` (job id, its CallbackDelivery) once each attempt's outcome is recorded. */
export class CallbackSender extends EventEmitter {
  readonly #options: CallbackOptions;
  readonly #inflight = new Map<string, Promise<void>>();
  readonly #stop = new AbortController();

  constructor(options: CallbackOptions) {
    super();
    this.#options = options;
  }

  /** Starts delivering a finished job's callback, unless it is done or under way. Returns at once. */
  deliver(job: JobRecord): void {
    const url = job.callback_url;
    if (this.#stop.signal.aborted || !url || job.callback?.state !== 'pending') return;
    if (this.#inflight.has(job.id)) return;
    const run = this.#run(job.id, url).finally(() => this.#inflight.delete(job.id));
    this.#inflight.set(job.id, run);
  }

  /** Resolves when every delivery under way has ended (delivered, failed, or stopped by close). */
  async idle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight.values()]);
  }

  /** Stops every delivery; what is pending stays pending in the store for the next start. */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.idle();
  }

  async #run(id: string, url: string): Promise<void> {
    const { store, attempts: max, log } = this.#options;
    let attempts = (await store.get(id))?.callback?.attempts ?? 0;
    while (attempts < max) {
      if (attempts > 0 && !(await this.#backoff(attempts))) return;
      const job = await store.get(id);
      if (!job) return; // pruned by retention meanwhile
      attempts++;
      const outcome = await this.#post(url, job, attempts);
      if ('stopped' in outcome) return;
      if (outcome.ok) {
        const delivered_at = new Date().toISOString();
        await this.#record(id, { state: 'delivered', attempts, last_error: null, delivered_at });
        this.#options.onAttempt?.('delivered');
        return;
      }
      const final = outcome.permanent || attempts >= max;
      const state = final ? 'failed' : 'pending';
      this.#options.onAttempt?.(final ? 'failed' : 'retry');
      await this.#record(id, { state, attempts, last_error: outcome.error, delivered_at: null });
      const fields = { job_id: id, client: job.client, attempt: attempts, error: outcome.error };
      if (final) log.warn(fields, 'callback failed for good');
      else log.info(fields, 'callback attempt failed');
      if (final) return;
    }
  }

  async #record(id: string, delivery: CallbackDelivery): Promise<void> {
    try {
      await this.#options.store.update(id, { callback: delivery });
    } catch (err) {
      this.#options.log.error({ job_id: id, err }, 'recording a callback attempt failed');
    }
    this.emit('attempt', id, delivery);
  }

  /** Waits before attempt `done + 1`; false when the sender is closing. */
  async #backoff(done: number): Promise<boolean> {
    const { firstDelayMs, maxDelayMs } = this.#options;
    const ceiling = Math.min(maxDelayMs, firstDelayMs * 2 ** (done - 1));
    // Half fixed, half random: retries of many jobs to one target do not arrive together.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    try {
      await sleep(delay, undefined, { signal: this.#stop.signal, ref: false });
      return true;
    } catch {
      return false;
    }
  }

  async #post(url: string, job: JobRecord, attempt: number): Promise<Outcome> {
    const body = JSON.stringify(job);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': this.#options.userAgent,
      'x-codeexec-job': job.id,
      'x-codeexec-attempt': String(attempt),
    };
    if (this.#options.secret !== null) {
      headers['x-codeexec-signature'] =
        `sha256=${createHmac('sha256', this.#options.secret).update(body).digest('hex')}`;
    }
    const timeout = AbortSignal.timeout(this.#options.timeoutMs);
    try {
      const target = new URL(url);
      // Throws at once for a forbidden IP literal; a name is checked in the connection's lookup.
      const lookup = this.#options.guard.connectLookup(target);
      const status = await post(target, headers, body, lookup, AbortSignal.any([timeout, this.#stop.signal]));
      if (status >= 200 && status < 300) return { ok: true };
      const redirect = status >= 300 && status < 400;
      return {
        ok: false,
        error: redirect ? `HTTP ${status} (redirects are not followed)` : `HTTP ${status}`,
        permanent: !RETRYABLE(status),
      };
    } catch (err) {
      if (this.#stop.signal.aborted) return { stopped: true };
      // Nothing was sent. Giving up at once: retrying an internal address is no use, and a
      // name that resolves there now is not one the client should be trusted with later.
      if (isCallbackForbidden(err))
        return { ok: false, error: `refused before connecting: ${err.message}`, permanent: true };
      if (timeout.aborted)
        return { ok: false, error: `no answer within ${this.#options.timeoutMs} ms`, permanent: false };
      const error = err as NodeJS.ErrnoException;
      if (error.code === 'ERR_INVALID_URL') return { ok: false, error: error.message, permanent: true };
      // Several addresses tried (happy eyeballs) fail as an AggregateError with no message.
      const why = error.message || error.code || String(err);
      return {
        ok: false,
        error: error.code && !why.includes(error.code) ? `${why} (${error.code})` : why,
        permanent: false,
      };
    }
  }
}

/**
 * One POST with node:http(s), whose `lookup` option is the guard's hook (fetch has no such
 * option); it never follows a redirect: the client named this URL and no other. Resolves with
 * the status once the answer's head arrives; the body is not read.
 */
function post(
  target: URL,
  headers: Record<string, string>,
  body: string,
  lookup: LookupFunction | undefined,
  signal: AbortSignal,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        // A connection of its own: never a pooled socket another lookup made.
        agent: false,
        signal,
        ...(lookup ? { lookup } : {}),
      },
      (res) => {
        res.on('error', () => {}); // closing it early is ours; nothing to report
        resolve(res.statusCode ?? 0);
        res.destroy();
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
