// Rate limits: a token bucket per key (a client identity, or an address), refilled continuously.
// Pure logic on an injected clock; rate-limits.ts puts two of them in front of the routes and
// sockets. Not the concurrency cap (too_many_jobs): that counts jobs unfinished, this counts
// requests over time.
import type { Clock } from '../scheduling/clock.js';

export interface BucketPolicy {
  /** Tokens added per minute (the sustained rate). */
  perMinute: number;
  /** The bucket's size: the most taken at once after a quiet spell (RateLimit-Limit). */
  burst: number;
}

/** What one attempt found, for the answer's RateLimit-* fields and Retry-After. */
export interface RateDecision {
  allowed: boolean;
  /** The bucket's size. */
  limit: number;
  /** Whole tokens left after this attempt. */
  remaining: number;
  /** Milliseconds until the bucket is full again (all of `limit` available). */
  resetMs: number;
  /** Refused: milliseconds until one token is back; 0 when allowed. */
  retryAfterMs: number;
}

/**
 * Tokens are counted in units of 1/60 000 (a token per minute adds one unit per millisecond), so
 * with whole milliseconds every sum is a whole number: no float drift in "is a token back yet".
 */
const UNITS_PER_TOKEN = 60_000;

interface Bucket {
  units: number;
  /** When `units` was last brought up to date. */
  at: number;
}

/** A bound on memory: past this many buckets the least recently used ones go. */
export const DEFAULT_MAX_BUCKETS = 100_000;

export class RateLimiter {
  readonly policy: BucketPolicy;
  readonly #clock: Clock;
  readonly #maxBuckets: number;
  /** Units added per millisecond (= tokens per minute). */
  readonly #rate: number;
  /** The bucket's size in units. */
  readonly #capacity: number;
  /** In order of last use (a Map keeps insertion order; a use re-inserts). */
  readonly #buckets = new Map<string, Bucket>();
  #lastSweep: number;

  constructor(policy: BucketPolicy, clock: Clock, maxBuckets = DEFAULT_MAX_BUCKETS) {
    if (!(policy.perMinute > 0 && policy.burst >= 1)) {
      throw new Error(`a rate limit needs perMinute > 0 and burst ≥ 1, got ${JSON.stringify(policy)}`);
    }
    this.policy = policy;
    this.#clock = clock;
    this.#maxBuckets = Math.max(1, maxBuckets);
    this.#rate = policy.perMinute;
    this.#capacity = policy.burst * UNITS_PER_TOKEN;
    this.#lastSweep = clock.now();
  }

  /** Buckets held now (idle ones that refilled are dropped, so this stays near the active keys). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Milliseconds an empty bucket takes to fill: the policy's window. */
  get windowMs(): number {
    return this.#capacity / this.#rate;
  }

  /**
   * Takes one token for `key` if there is one. `cost` > 1: a token is worth that many, so this
   * limiter allows a 1/cost share of its policy (of several gateways enforcing one limit, each its
   * share); never more than the burst, so one token always fits a full bucket.
   */
  take(key: string, cost = 1): RateDecision {
    const now = this.#clock.now();
    this.#sweep(now);
    const capacity = this.#capacity;
    const token = Math.max(1, Math.min(cost, this.policy.burst)) * UNITS_PER_TOKEN;
    const known = this.#buckets.get(key);
    const bucket = known ?? { units: capacity, at: now };
    bucket.units = Math.min(capacity, bucket.units + Math.max(0, now - bucket.at) * this.#rate);
    bucket.at = now;
    const allowed = bucket.units >= token;
    if (allowed) bucket.units -= token;
    // Most recently used last: re-insert.
    if (known) this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    this.#bound();
    return {
      allowed,
      limit: Math.floor(capacity / token),
      remaining: Math.floor(bucket.units / token),
      resetMs: Math.ceil((capacity - bucket.units) / this.#rate),
      retryAfterMs: allowed ? 0 : Math.ceil((token - bucket.units) / this.#rate),
    };
  }

  /**
   * A bucket that has refilled is the same as no bucket: drop those, once per window (so the
   * sweep's cost is spread over a window's worth of takes).
   */
  #sweep(now: number): void {
    if (now - this.#lastSweep < this.windowMs) return;
    this.#lastSweep = now;
    for (const [key, bucket] of this.#buckets) {
      if (bucket.units + (now - bucket.at) * this.#rate >= this.#capacity) this.#buckets.delete(key);
    }
  }

  /**
   * More keys than the bound (many addresses at once): forget the least recently used. A
   * forgotten key starts again with a full bucket, the price of bounded memory.
   */
  #bound(): void {
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#maxBuckets) return;
      this.#buckets.delete(key);
    }
  }
}
