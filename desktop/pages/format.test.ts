import { describe, expect, it } from 'vitest';
import { donorStatus, FIXTURE_NOW } from '../status-fixtures.js';
import {
  formatClock,
  formatConnection,
  formatCount,
  formatCpu,
  formatElapsed,
  shortGateway,
} from './format.js';

describe('formatting', () => {
  it.each([
    [0, '0 s'],
    [42.7, '42 s'],
    [60, '1 min'],
    [2710, '45 min'],
    [3600, '1 h'],
    [11_520, '3 h 12 min'],
    [53_130, '14 h 45 min'],
    [86_400 * 2 + 3600 * 4 + 59, '2 d 4 h'],
    [86_400 * 3, '3 d'],
  ])('CPU time %s s reads %s', (seconds, text) => {
    expect(formatCpu(seconds)).toBe(text);
  });

  it.each([
    [0, '0:00'],
    [4_000, '0:04'],
    [75_900, '1:15'],
    [3_723_000, '1:02:03'],
    [-5, '0:00'],
  ])('elapsed %s ms reads %s', (ms, text) => {
    expect(formatElapsed(ms)).toBe(text);
  });

  it('groups counts and shows local clock times', () => {
    expect([formatCount(0), formatCount(999), formatCount(1284), formatCount(1_234_567)]).toEqual([
      '0',
      '999',
      '1,284',
      '1,234,567',
    ]);
    expect(formatClock(new Date(2026, 2, 10, 9, 5, 7).getTime())).toBe('09:05:07');
  });

  it('describes the connection, counting a retry down', () => {
    expect(formatConnection(donorStatus(), FIXTURE_NOW)).toBe('Connected');
    const retrying = donorStatus({ connection: { state: 'retrying', gateway: 'g', retry_in_ms: 8_000 } });
    expect(formatConnection(retrying, FIXTURE_NOW)).toBe('Unreachable, retrying in 8 s');
    expect(formatConnection(retrying, FIXTURE_NOW + 5_500)).toBe('Unreachable, retrying in 3 s');
    expect(formatConnection(retrying, FIXTURE_NOW + 9_000)).toBe('Unreachable, retrying now');
    const refused = donorStatus({ connection: { state: 'refused', gateway: 'g', message: 'unknown token' } });
    expect(formatConnection(refused, FIXTURE_NOW)).toBe('Refused: unknown token');
    expect(shortGateway('https://gateway.example.org/')).toBe('gateway.example.org');
  });
});
