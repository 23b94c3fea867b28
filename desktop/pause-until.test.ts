import { describe, expect, it } from 'vitest';
import { describeUntil, nextMorning, pauseUntil } from './pause-until.js';

// Dates are built from local fields, so the cases hold in any time zone the tests run in.
const at = (month: number, day: number, hour: number, minute = 0) => new Date(2026, month, day, hour, minute);

describe('pauseUntil', () => {
  it('pauses for exactly one hour', () => {
    const now = at(2, 10, 14, 20);
    expect(pauseUntil('hour', now)).toBe(now.getTime() + 3_600_000);
  });

  it('pauses indefinitely as null', () => {
    expect(pauseUntil('indefinitely', at(2, 10, 14))).toBeNull();
  });

  it.each([
    ['the afternoon', at(2, 10, 14, 0), at(2, 11, 8)],
    ['late evening', at(2, 10, 23, 30), at(2, 11, 8)],
    ['early morning, after the night', at(2, 10, 6, 0), at(2, 11, 8)],
    ['05:00, the night is over', at(2, 10, 5, 0), at(2, 11, 8)],
    ['after midnight: the coming morning', at(2, 10, 1, 30), at(2, 10, 8)],
    ['the last day of a month', at(2, 31, 20), at(3, 1, 8)],
    ['new year', at(11, 31, 22), new Date(2027, 0, 1, 8)],
  ])('until tomorrow from %s is the next 08:00', (_, now, expected) => {
    expect(pauseUntil('tomorrow', now)).toBe(expected.getTime());
    expect(new Date(pauseUntil('tomorrow', now) as number).getHours()).toBe(8);
  });

  it('keeps 08:00 local across every day of a year (DST changes included)', () => {
    for (let day = 0; day < 366; day++) {
      const morning = nextMorning(new Date(2026, 0, 1 + day, 21, 0));
      expect([morning.getHours(), morning.getMinutes()]).toEqual([8, 0]);
      expect(morning.getDate()).toBe(new Date(2026, 0, 2 + day).getDate());
    }
  });
});

describe('describeUntil', () => {
  const now = at(2, 10, 14);
  it.each([
    [at(2, 10, 15, 5), '15:05'],
    [at(2, 11, 8), 'tomorrow 08:00'],
    [at(2, 13, 8), 'Fri 08:00'],
    [at(3, 20, 9, 30), '20 Apr 09:30'],
  ])('%s reads %s', (until, text) => {
    expect(describeUntil(until.getTime(), now)).toBe(text);
  });
});
