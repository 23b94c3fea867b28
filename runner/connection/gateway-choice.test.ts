// Which gateway a runner dials next, on plain data: the list as CODEEXEC_GATEWAY_URL holds it, and
// the choice after a failure, a lost link or a goaway, with the random draw fixed.
import { describe, expect, it } from 'vitest';
import {
  type ChoiceInput,
  chooseNext,
  HOP_JITTER_MS,
  MAX_GOAWAY_WAIT_MS,
  parseGatewayUrls,
} from './gateway-choice.js';

describe('parseGatewayUrls', () => {
  it.each([
    ['http://127.0.0.1:8080', ['http://127.0.0.1:8080']],
    [
      'https://a.example, wss://b.example:8443 ,ws://[::1]:9',
      ['https://a.example', 'wss://b.example:8443', 'ws://[::1]:9'],
    ],
    ['  http://a  ', ['http://a']],
  ])('%j → %j', (text, urls) => {
    expect(parseGatewayUrls(text, 'CODEEXEC_GATEWAY_URL')).toEqual(urls);
  });

  it.each([
    ['', /CODEEXEC_GATEWAY_URL .*empty entry/],
    ['http://a,', /CODEEXEC_GATEWAY_URL .*empty entry/],
    ['http://a,,http://b', /empty entry/],
    ['ftp://a', /CODEEXEC_GATEWAY_URL must hold http\(s\).*"ftp:\/\/a"/],
    ['http://a, gateway.example:8080', /"gateway.example:8080"/],
    ['http://a, not a url', /"not a url"/],
  ])('refuses %j', (text, message) => {
    expect(() => parseGatewayUrls(text, 'CODEEXEC_GATEWAY_URL')).toThrow(message);
  });
});

const backoff = { minMs: 250, maxMs: 15_000 };
const input = (over: Partial<ChoiceInput>): ChoiceInput => ({
  count: 1,
  current: 0,
  failures: 0,
  ending: { kind: 'failed' },
  backoff,
  random: 0.5,
  ...over,
});

describe('chooseNext after a failure', () => {
  it('with one URL waits exactly as a runner always did: min/2 + random × min(max, min × 2^failures)', () => {
    for (let failures = 0; failures < 12; failures++) {
      for (const random of [0, 0.25, 0.999]) {
        const ceiling = Math.min(15_000, 250 * 2 ** failures);
        expect(chooseNext(input({ failures, random }))).toEqual({
          index: 0,
          delayMs: Math.round(125 + random * ceiling),
          failures: failures + 1,
          why: 'backoff',
        });
      }
    }
  });

  it.each([
    // [count, current, failures before] → [index, why, failures after]
    { count: 3, current: 0, failures: 0, index: 1, why: 'hop', after: 1 },
    { count: 3, current: 1, failures: 1, index: 2, why: 'hop', after: 2 },
    // The third in a row: every URL failed, so the backoff, then round robin goes on.
    { count: 3, current: 2, failures: 2, index: 0, why: 'backoff', after: 3 },
    { count: 3, current: 0, failures: 3, index: 1, why: 'hop', after: 4 },
    { count: 3, current: 2, failures: 5, index: 0, why: 'backoff', after: 6 },
    { count: 2, current: 1, failures: 0, index: 0, why: 'hop', after: 1 },
    { count: 2, current: 0, failures: 1, index: 1, why: 'backoff', after: 2 },
  ])(
    '$count URLs, at $current after $failures: → $index ($why)',
    ({ count, current, failures, index, why, after }) => {
      const choice = chooseNext(input({ count, current, failures }));
      expect(choice).toMatchObject({ index, why, failures: after });
    },
  );

  it('hops under HOP_JITTER_MS, and backs off by whole rounds: the ceiling doubles per round failed', () => {
    expect(chooseNext(input({ count: 3, random: 0 })).delayMs).toBe(0);
    expect(chooseNext(input({ count: 3, random: 0.999 })).delayMs).toBeLessThan(HOP_JITTER_MS);
    // Round 1 (3 failures in a row) waits like one URL's first failure, round 2 like its second.
    const round = (failures: number) =>
      chooseNext(input({ count: 3, current: 2, failures, random: 1 })).delayMs;
    expect(round(2)).toBe(125 + 250);
    expect(round(5)).toBe(125 + 500);
    expect(round(8)).toBe(125 + 1000);
    // Capped.
    expect(round(3 * 30 - 1)).toBe(125 + 15_000);
  });
});

describe('chooseNext after a goaway', () => {
  it('hops to the next URL at once, and counts no failure', () => {
    for (const random of [0, 0.5, 0.999]) {
      const choice = chooseNext(
        input({
          count: 2,
          current: 1,
          failures: 0,
          ending: { kind: 'goaway', reconnectAfterMs: 5000 },
          random,
        }),
      );
      expect(choice).toEqual({
        index: 0,
        delayMs: Math.floor(random * HOP_JITTER_MS),
        failures: 0,
        why: 'hop',
      });
    }
  });

  it('with one URL waits what the gateway asked, within bounds, and counts no failure', () => {
    const goaway = (reconnectAfterMs: number, failures = 0) =>
      chooseNext(input({ failures, ending: { kind: 'goaway', reconnectAfterMs } }));
    expect(goaway(300)).toEqual({ index: 0, delayMs: 300, failures: 0, why: 'wait' });
    expect(goaway(0)).toEqual({ index: 0, delayMs: 0, failures: 0, why: 'wait' });
    expect(goaway(300, 2)).toMatchObject({ delayMs: 300, failures: 2 });
    expect(goaway(MAX_GOAWAY_WAIT_MS * 10).delayMs).toBe(MAX_GOAWAY_WAIT_MS);
  });

  it('a failure after a goaway hop counts from where the runner was', () => {
    // A then B; B went away, A failed: one failure, so on to B again at once.
    const hop = chooseNext(input({ count: 2, current: 1, ending: { kind: 'goaway', reconnectAfterMs: 0 } }));
    const failed = chooseNext(input({ count: 2, current: hop.index, failures: hop.failures }));
    expect(failed).toMatchObject({ index: 1, why: 'hop', failures: 1 });
  });
});
