import { describe, expect, it } from 'vitest';
import { FakeClock } from '../scheduling/clock.js';
import { RateLimiter } from './rate-limiter.js';
import { RateLimits, rateLimitHeaders } from './rate-limits.js';

/** `n` takes for `key`: whether each was allowed. */
const takes = (limiter: RateLimiter, key: string, n: number) =>
  Array.from({ length: n }, () => limiter.take(key).allowed);

describe('RateLimiter (a token bucket per key)', () => {
  it('allows a burst, then refuses, saying when one token is back', () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ perMinute: 60, burst: 3 }, clock);
    expect([1, 2, 3].map(() => limiter.take('a'))).toMatchObject([
      { allowed: true, limit: 3, remaining: 2 },
      { allowed: true, limit: 3, remaining: 1 },
      { allowed: true, limit: 3, remaining: 0, resetMs: 3_000 },
    ]);
    expect(limiter.take('a')).toEqual({
      allowed: false,
      limit: 3,
      remaining: 0,
      resetMs: 3_000,
      retryAfterMs: 1_000,
    });
  });

  it('refills continuously, never above the burst', () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ perMinute: 60, burst: 3 }, clock);
    expect(takes(limiter, 'a', 4)).toEqual([true, true, true, false]);
    clock.advance(999);
    expect(limiter.take('a')).toMatchObject({ allowed: false, retryAfterMs: 1 });
    clock.advance(1);
    expect(limiter.take('a')).toMatchObject({ allowed: true, remaining: 0 });
    clock.advance(2_500);
    expect(limiter.take('a')).toMatchObject({ allowed: true, remaining: 1 });
    clock.advance(3_600_000);
    expect(takes(limiter, 'a', 4)).toEqual([true, true, true, false]);
  });

  it('keeps identities apart', () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ perMinute: 60, burst: 2 }, clock);
    expect(takes(limiter, 'key:aaa', 3)).toEqual([true, true, false]);
    expect(takes(limiter, 'key:bbb', 3)).toEqual([true, true, false]);
    expect(takes(limiter, 'addr:10.0.0.1', 1)).toEqual([true]);
  });

  it('drops buckets that refilled (an idle key costs nothing)', () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ perMinute: 60, burst: 6 }, clock);
    for (let i = 0; i < 50; i++) limiter.take(`addr:10.0.0.${i}`);
    expect(limiter.size).toBe(50);
    clock.advance(limiter.windowMs);
    limiter.take('addr:10.0.1.1');
    expect(limiter.size).toBe(1);
  });

  it('holds at most maxBuckets, forgetting the least recently used', () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ perMinute: 1, burst: 1 }, clock, 3);
    expect(takes(limiter, 'a', 2)).toEqual([true, false]);
    limiter.take('b');
    limiter.take('c');
    limiter.take('a'); // a is the most recent now: b goes first
    limiter.take('d');
    expect(limiter.size).toBe(3);
    expect(limiter.take('a').allowed).toBe(false); // still remembered
    expect(limiter.take('b').allowed).toBe(true); // forgotten: a fresh bucket
    for (let i = 0; i < 10_000; i++) limiter.take(`flood-${i}`);
    expect(limiter.size).toBe(3);
  });

  it.each([[{ perMinute: 0, burst: 1 }], [{ perMinute: 10, burst: 0 }]])(
    'refuses a policy that allows nothing: %j',
    (policy) => {
      expect(() => new RateLimiter(policy, new FakeClock())).toThrow(/perMinute > 0 and burst ≥ 1/);
    },
  );
});

describe('RateLimits (submissions per client, requests per address)', () => {
  it('answers draft-06 RateLimit fields, and 429 rate_limited with Retry-After past the limit', () => {
    const limits = new RateLimits({ perMinute: 3, burst: 3 }, new FakeClock());
    const answers = [1, 2, 3, 4].map(() => limits.submission('key:abc'));
    expect(answers.map((a) => a.headers['ratelimit-remaining'])).toEqual(['2', '1', '0', '0']);
    expect(answers[0]!.headers).toEqual({
      'ratelimit-limit': '3',
      'ratelimit-remaining': '2',
      'ratelimit-reset': '20',
      'ratelimit-policy': '3;w=60',
    });
    expect(answers.slice(0, 3).map((a) => a.error)).toEqual([null, null, null]);
    const refused = answers[3]!;
    expect(refused.headers['retry-after']).toBe('20');
    expect(refused.error).toMatchObject({
      code: 'rate_limited',
      status: 429,
      details: { scope: 'submissions', limit: 3, per_minute: 3, retry_after_ms: 20_000 },
    });
    expect(refused.error?.message).toMatch(/CODEEXEC_RATE_LIMIT/);
    expect(() => limits.admit('key:abc')).toThrow(/Too many job submissions/);
    expect(() => limits.admit('key:other')).not.toThrow();
  });

  it('allows each of n gateways its share of a submission limit, never less than one at once', () => {
    const clock = new FakeClock();
    const limits = new RateLimits({ perMinute: 60, burst: 6 }, clock);
    limits.shareWith(() => 3);
    const answers = [1, 2, 3].map(() => limits.submission('key:abc'));
    expect(answers.map((a) => a.error === null)).toEqual([true, true, false]);
    expect(answers[0]!.headers['ratelimit-limit']).toBe('2');
    expect(answers[2]!.error?.message).toMatch(/at most 60 a minute across 3 gateways, 2 at once here/);
    // A third of a minute's rate here: one more every 3 s.
    clock.advance(3_000);
    expect(limits.submission('key:abc').error).toBeNull();
    // More gateways than the burst: still one at a time.
    const tight = new RateLimits({ perMinute: 60, burst: 2 }, clock);
    tight.shareWith(() => 5);
    expect([1, 2].map(() => tight.submission('key:x').error === null)).toEqual([true, false]);
  });

  it('limits requests per address ten times more loosely, and never loopback', () => {
    const limits = new RateLimits({ perMinute: 1, burst: 2 }, new FakeClock());
    const outcomes = Array.from({ length: 21 }, () => limits.request('203.0.113.7').error?.code ?? 'ok');
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(20);
    expect(outcomes[20]).toBe('rate_limited');
    expect(limits.request('203.0.113.7').error?.details).toMatchObject({ scope: 'requests' });
    for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      for (let i = 0; i < 50; i++) expect(limits.request(address)).toEqual({ headers: {}, error: null });
    }
  });

  it('takes the per-address limit as given, and tells of every refusal by scope', () => {
    const refusals: string[] = [];
    const limits = new RateLimits(
      { perMinute: 2, burst: 2, requestsPerMinute: 3 },
      new FakeClock(),
      undefined,
      (scope) => refusals.push(scope),
    );
    const requests = Array.from({ length: 4 }, () => limits.request('203.0.113.7').error?.code ?? 'ok');
    expect(requests).toEqual(['ok', 'ok', 'ok', 'rate_limited']);
    expect(limits.request('203.0.113.7').error?.message).toMatch(/CODEEXEC_RATE_LIMIT_ADDRESS/);
    const submissions = Array.from({ length: 3 }, () => limits.submission('key:a').error?.code ?? 'ok');
    expect(submissions).toEqual(['ok', 'ok', 'rate_limited']);
    expect(refusals).toEqual(['requests', 'requests', 'submissions']);
  });

  it('is off at 0 a minute: no fields, nothing refused', () => {
    const limits = new RateLimits({ perMinute: 0 }, new FakeClock());
    expect(limits.enabled).toBe(false);
    for (let i = 0; i < 100; i++) {
      expect(limits.submission('key:abc')).toEqual({ headers: {}, error: null });
      expect(limits.request('203.0.113.7')).toEqual({ headers: {}, error: null });
    }
  });

  it('rounds the window up to whole seconds', () => {
    const headers = rateLimitHeaders(
      { allowed: true, limit: 7, remaining: 6, resetMs: 1_400, retryAfterMs: 0 },
      4_200,
    );
    expect(headers).toMatchObject({ 'ratelimit-reset': '2', 'ratelimit-policy': '7;w=5' });
  });
});
