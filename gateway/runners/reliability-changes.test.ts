// The changes ReliabilityBook keeps pending: the same rules as scheduling/reliability.ts, applied
// in order without touching the records they start from; and the retry delays.
import { describe, expect, it } from 'vitest';
import {
  afterAgreement,
  afterDisagreement,
  NEW_RELIABILITY,
  type Reliability,
} from '../scheduling/reliability.js';
import { afterChange, type ReliabilityChange, retryDelayMs, withChanges } from './reliability-changes.js';

const AT = '2026-01-02T03:04:05.000Z';
const doubtful: Reliability = {
  agreed: 7,
  disagreed: 2,
  streak: 3,
  last_disagreement_at: AT,
  quarantined: false,
};

describe('afterChange', () => {
  it.each<[string, Reliability | undefined, ReliabilityChange, Reliability]>([
    ['agreed, new', undefined, { identity: 'a', kind: 'agreed' }, afterAgreement({ ...NEW_RELIABILITY })],
    ['agreed', doubtful, { identity: 'a', kind: 'agreed' }, afterAgreement(doubtful)],
    [
      'disagreed, new',
      undefined,
      { identity: 'a', kind: 'disagreed', at: AT },
      afterDisagreement({ ...NEW_RELIABILITY }, AT),
    ],
    ['disagreed', doubtful, { identity: 'a', kind: 'disagreed', at: AT }, afterDisagreement(doubtful, AT)],
    [
      'quarantined, new',
      undefined,
      { identity: 'a', kind: 'quarantine', quarantined: true },
      { ...NEW_RELIABILITY, quarantined: true },
    ],
    [
      'released',
      { ...doubtful, quarantined: true },
      { identity: 'a', kind: 'quarantine', quarantined: false },
      doubtful,
    ],
  ])('%s: as scheduling/reliability.ts says', (_, before, change, expected) => {
    expect(afterChange(before, change)).toEqual(expected);
  });

  it('never changes the record it is given, nor NEW_RELIABILITY', () => {
    const before = { ...doubtful };
    afterChange(before, { identity: 'a', kind: 'disagreed', at: AT });
    afterChange(undefined, { identity: 'a', kind: 'quarantine', quarantined: true });
    expect(before).toEqual(doubtful);
    expect(NEW_RELIABILITY.quarantined).toBe(false);
  });
});

describe('withChanges', () => {
  it('applies the changes in order, per identity, to a copy', () => {
    const stored = new Map([['a', doubtful]]);
    const after = withChanges(stored, [
      { identity: 'a', kind: 'agreed' },
      { identity: 'b', kind: 'disagreed', at: AT },
      { identity: 'a', kind: 'disagreed', at: AT },
      { identity: 'b', kind: 'agreed' },
    ]);
    expect(after.get('a')).toEqual({ ...doubtful, agreed: 8, disagreed: 3, streak: 0 });
    expect(after.get('b')).toEqual({
      agreed: 1,
      disagreed: 1,
      streak: 1,
      last_disagreement_at: AT,
      quarantined: false,
    });
    expect([...stored.keys()]).toEqual(['a']);
    expect(stored.get('a')).toEqual(doubtful);
  });

  it('with no changes, is an equal copy', () => {
    const stored = new Map([['a', doubtful]]);
    const after = withChanges(stored, []);
    expect(after).toEqual(stored);
    expect(after).not.toBe(stored);
  });
});

describe('retryDelayMs', () => {
  it('doubles from 1 s up to 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map(retryDelayMs)).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });
});
