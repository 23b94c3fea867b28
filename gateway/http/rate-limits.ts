// The gateway's two rate limits (CODEEXEC_RATE_LIMIT, CODEEXEC_RATE_BURST): job submissions per
// client identity (`key:<fingerprint>`, or `addr:<ip>` without API keys), and every request per
// peer address (CODEEXEC_RATE_LIMIT_ADDRESS, by default ten times looser). Answers carry the RateLimit-Limit, RateLimit-Remaining,
// RateLimit-Reset and RateLimit-Policy fields of draft-ietf-httpapi-ratelimit-headers-06 (the
// last revision with separate fields; -07 on merge them into `RateLimit`), and a refusal is
// 429 rate_limited with Retry-After.
import { CodeexecError } from '../../shared/index.js';
import type { Clock } from '../scheduling/clock.js';
import { isLoopbackPeer } from './admin-auth.js';
import { type BucketPolicy, type RateDecision, RateLimiter } from './rate-limiter.js';

export interface RateLimitOptions {
  /** Submissions per minute per client identity; 0: no rate limits at all. */
  perMinute: number;
  /** Submissions at once after a quiet spell (default: a minute's worth, `perMinute`). */
  burst?: number;
  /**
   * Requests of any kind per minute per peer address (default REQUESTS_PER_SUBMISSION ×
   * perMinute); its burst is as many times `burst` as this is times `perMinute`.
   */
  requestsPerMinute?: number;
}

/** By default the per-address limit on every request is this many times the submission limit. */
export const REQUESTS_PER_SUBMISSION = 10;

export type RateScope = 'submissions' | 'requests';

/** What a limited answer says: its header fields, and the error when it is refused. */
export interface RateVerdict {
  headers: Record<string, string>;
  error: CodeexecError | null;
}

const UNLIMITED: RateVerdict = { headers: {}, error: null };

export class RateLimits {
  readonly #submissions: RateLimiter | null;
  readonly #requests: RateLimiter | null;

  readonly #refused: (scope: RateScope) => void;
  /** How many gateways enforce the submission limit together (each allows its share). */
  #gateways: () => number = () => 1;

  /** `refused`: told of every refusal (the gateway's metrics count them). */
  constructor(
    options: RateLimitOptions,
    clock: Clock,
    maxBuckets?: number,
    refused: (scope: RateScope) => void = () => {},
  ) {
    this.#refused = refused;
    if (options.perMinute <= 0) {
      this.#submissions = null;
      this.#requests = null;
      return;
    }
    const policy: BucketPolicy = { perMinute: options.perMinute, burst: options.burst ?? options.perMinute };
    this.#submissions = new RateLimiter(policy, clock, maxBuckets);
    const factor =
      (options.requestsPerMinute ?? policy.perMinute * REQUESTS_PER_SUBMISSION) / policy.perMinute;
    this.#requests = new RateLimiter(
      {
        perMinute: Math.max(1, Math.round(policy.perMinute * factor)),
        burst: Math.max(1, Math.round(policy.burst * factor)),
      },
      clock,
      maxBuckets,
    );
  }

  get enabled(): boolean {
    return this.#submissions !== null;
  }

  /**
   * Any request, by its peer's address. Loopback is not limited: a proxy on this machine sends
   * every client's requests from there (limit per address in the proxy), and the local CLI is
   * the operator's.
   */
  request(address: string): RateVerdict {
    if (this.#requests === null || isLoopbackPeer(address)) return UNLIMITED;
    return this.#counted(verdict(this.#requests, `requests:${address}`, 'requests'), 'requests');
  }

  /**
   * Gateways sharing a store enforce one submission limit per client between them: each allows
   * 1/n of it (n = the living gateways, as this one last read them), so a client spread over them
   * by a load balancer gets the whole limit, and never more.
   */
  shareWith(gateways: () => number): void {
    this.#gateways = gateways;
  }

  /** A job submission (or a session opened) on behalf of `client`. */
  submission(client: string): RateVerdict {
    if (this.#submissions === null) return UNLIMITED;
    const cost = Math.max(1, Math.floor(this.#gateways()));
    return this.#counted(verdict(this.#submissions, client, 'submissions', cost), 'submissions');
  }

  #counted(result: RateVerdict, scope: RateScope): RateVerdict {
    if (result.error !== null) this.#refused(scope);
    return result;
  }

  /** For the sockets: throws rate_limited (details.retry_after_ms) past the client's limit. */
  admit(client: string | null): void {
    if (client === null) return;
    const { error } = this.submission(client);
    if (error) throw error;
  }
}

function verdict(limiter: RateLimiter, key: string, scope: RateScope, cost = 1): RateVerdict {
  const decision = limiter.take(key, cost);
  const headers = rateLimitHeaders(decision, limiter.windowMs);
  if (decision.allowed) return { headers, error: null };
  const retryAfterS = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
  headers['retry-after'] = String(retryAfterS);
  const { perMinute } = limiter.policy;
  const what = scope === 'submissions' ? 'job submissions from this client' : 'requests from this address';
  return {
    headers,
    error: new CodeexecError(
      'rate_limited',
      `Too many ${what}: at most ${perMinute} a minute${cost > 1 ? ` across ${cost} gateways` : ''}, ` +
        `${decision.limit} at once${cost > 1 ? ' here' : ''} ` +
        `(${scope === 'submissions' ? 'CODEEXEC_RATE_LIMIT, CODEEXEC_RATE_BURST' : 'CODEEXEC_RATE_LIMIT_ADDRESS'}); retry in ${retryAfterS} s`,
      { scope, limit: decision.limit, per_minute: perMinute, retry_after_ms: decision.retryAfterMs },
    ),
  };
}

/**
 * draft-ietf-httpapi-ratelimit-headers-06: Limit is the bucket's size, Remaining the whole tokens
 * left, Reset the seconds until it is full again, Policy the size and the window (seconds) in
 * which an empty bucket refills.
 */
export function rateLimitHeaders(decision: RateDecision, windowMs: number): Record<string, string> {
  return {
    'ratelimit-limit': String(decision.limit),
    'ratelimit-remaining': String(decision.remaining),
    'ratelimit-reset': String(Math.ceil(decision.resetMs / 1000)),
    'ratelimit-policy': `${decision.limit};w=${Math.ceil(windowMs / 1000)}`,
  };
}
