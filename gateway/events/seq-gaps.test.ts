import { describe, expect, it } from 'vitest';
import { SeqGaps } from './seq-gaps.js';

const SPAN = 2 ** 32;

describe('SeqGaps', () => {
  it('says nothing while chunks come in order, from the start of an attempt', () => {
    const gaps = new SeqGaps();
    gaps.started(1);
    expect([0, 1, 2].map((seq) => gaps.arrived(seq))).toEqual([null, null, null]);
  });

  it('reports the chunks skipped before one that arrives', () => {
    const gaps = new SeqGaps();
    gaps.started(1);
    gaps.arrived(0);
    expect(gaps.arrived(4)).toEqual({ from_seq: 1, to_seq: 3, reason: 'not_received' });
    expect(gaps.arrived(5)).toBeNull();
  });

  it('reports the first chunks of an attempt lost with its start', () => {
    const gaps = new SeqGaps();
    gaps.started(1);
    expect(gaps.arrived(2)).toEqual({ from_seq: 0, to_seq: 1, reason: 'not_received' });
  });

  it('knows nothing to compare with when it joined mid-stream, then follows', () => {
    const gaps = new SeqGaps();
    expect(gaps.arrived(7)).toBeNull();
    expect(gaps.arrived(9)).toEqual({ from_seq: 8, to_seq: 8, reason: 'not_received' });
  });

  it('takes an announced gap as announced, and does not report it again', () => {
    const gaps = new SeqGaps();
    gaps.started(1);
    gaps.arrived(0);
    gaps.announced({ from_seq: 1, to_seq: 5, reason: 'not_received' });
    expect(gaps.arrived(6)).toBeNull();
    gaps.announced({ from_seq: 7, to_seq: null, reason: 'not_retained' });
    expect(gaps.arrived(20)).toBeNull();
  });

  it('counts a retry from its own base, whether or not its start was heard', () => {
    const heard = new SeqGaps();
    heard.arrived(3);
    heard.started(2);
    expect(heard.arrived(SPAN)).toBeNull();
    const missed = new SeqGaps();
    missed.arrived(3);
    expect(missed.arrived(SPAN + 2)).toEqual({ from_seq: SPAN, to_seq: SPAN + 1, reason: 'not_received' });
  });

  it('ignores a chunk it has seen', () => {
    const gaps = new SeqGaps();
    gaps.arrived(3);
    expect(gaps.arrived(2)).toBeNull();
    expect(gaps.arrived(4)).toBeNull();
  });
});
