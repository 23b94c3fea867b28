import { describe, expect, it } from 'vitest';
import { closeReason, MAX_RETRY_MS, retryDelay, staleNotice, statusText } from './reconnect.js';

describe('retryDelay', () => {
  it('doubles from half a second up to 15 s, the second half of each wait random', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => retryDelay(n, 0))).toEqual([
      250, 500, 1_000, 2_000, 4_000, 7_500, 7_500,
    ]);
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => retryDelay(n, 0.999_999))).toEqual([
      500,
      1_000,
      2_000,
      4_000,
      8_000,
      15_000,
      MAX_RETRY_MS,
    ]);
  });
});

describe('statusText', () => {
  const now = 1_000_000;
  it.each([
    [{ state: 'connecting' }, 'Connecting…'],
    [{ state: 'live' }, 'Live'],
    [{ state: 'reconnecting', retryAt: now + 3_200, reason: 'x' }, 'Reconnecting in 4 s'],
    [{ state: 'reconnecting', retryAt: now - 1, reason: 'x' }, 'Reconnecting…'],
    [{ state: 'key_needed', refused: false }, 'Admin key needed'],
    [{ state: 'key_needed', refused: true }, 'Key refused'],
  ] as const)('%o → %s', (status, text) => {
    expect(statusText(status, now)).toBe(text);
  });
});

describe('closeReason', () => {
  it('names the close', () => {
    expect(closeReason(1008, 'the dashboard does not read its socket')).toBe(
      'the dashboard does not read its socket (1008)',
    );
    expect(closeReason(1006, '')).toBe('the connection was lost (1006)');
    expect(closeReason(1001, '')).toBe('the gateway is going away (1001)');
    expect(closeReason(4000, '')).toBe('closed (4000)');
  });
});

describe('staleNotice', () => {
  it('says why and how old the figures are, only while reconnecting', () => {
    const lost = { state: 'reconnecting', retryAt: 0, reason: 'the connection was lost (1006)' } as const;
    expect(staleNotice(lost, 1_000, 13_500)).toBe(
      'Lost the connection to the gateway: the connection was lost (1006). The figures below are as the gateway sent them 12 s ago.',
    );
    expect(staleNotice(lost, null, 13_500)).toBe(
      'Lost the connection to the gateway: the connection was lost (1006).',
    );
    expect(staleNotice({ state: 'live' }, 1_000, 2_000)).toBeNull();
    expect(staleNotice({ state: 'key_needed', refused: true }, 1_000, 2_000)).toBeNull();
  });
});
