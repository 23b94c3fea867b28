import { describe, expect, it } from 'vitest';
import { schedRunner } from '../scheduling/sched-fixtures.js';
import type { Placement, SchedRunner } from '../scheduling/scheduler.js';
import { planHandoffs, type QueuedHere } from './handoff.js';

const runner = (id: string, over: Partial<SchedRunner> = {}) => schedRunner({ id, ...over });
const placement = (over: Partial<Placement> = {}): Placement => ({
  lang: 'python',
  labels: [],
  refusedBy: [],
  trust: 'any',
  ...over,
});
const job = (id: string, waitedMs = 0, over: Partial<Placement> = {}): QueuedHere => ({
  id,
  placement: placement(over),
  waitedMs,
});

describe('planHandoffs', () => {
  it('moves nothing without other gateways', () => {
    expect(planHandoffs({ queued: [job('a')], here: [], others: [], afterMs: 1_000 })).toEqual([]);
  });

  it('moves a job no runner here could run to the gateway with the most room, busy or not', () => {
    const moves = planHandoffs({
      queued: [job('a'), job('b'), job('c')],
      here: [runner('h', { languages: ['go'] })],
      others: [
        { gateway: 'gw-x', runners: [runner('x', { slots: 1 })] },
        { gateway: 'gw-y', runners: [runner('y', { slots: 2 })] },
      ],
      afterMs: 60_000,
    });
    // y has the most room; then x and y tie (one each), and the first listed wins; then y.
    expect(moves).toEqual([
      { jobId: 'a', to: 'gw-y' },
      { jobId: 'b', to: 'gw-x' },
      { jobId: 'c', to: 'gw-y' },
    ]);
  });

  it('keeps a job nobody can run anywhere (it fails here with no_runner in time)', () => {
    const moves = planHandoffs({
      queued: [job('a', 0, { lang: 'cobol' })],
      here: [],
      others: [{ gateway: 'gw-x', runners: [runner('x')] }],
      afterMs: 0,
    });
    expect(moves).toEqual([]);
  });

  it('moves a job that waited for busy runners here only to free slots elsewhere, no more than those', () => {
    const input = {
      queued: [job('a', 5_000), job('b', 5_000), job('young', 10)],
      here: [runner('h', { slots: 1, load: 1 })],
      others: [{ gateway: 'gw-x', runners: [runner('x', { slots: 2, load: 1 })] }],
      afterMs: 1_000,
    };
    expect(planHandoffs(input)).toEqual([{ jobId: 'a', to: 'gw-x' }]);
    // A free slot here: it stays.
    expect(planHandoffs({ ...input, here: [runner('h', { slots: 2, load: 1 })] })).toEqual([]);
  });

  it('respects labels, tiers and runners that refused the job', () => {
    const others = [
      { gateway: 'gw-gpu', runners: [runner('g', { labels: ['gpu'] })] },
      { gateway: 'gw-donor', runners: [runner('d', { tier: 'donor' })] },
    ];
    const here: SchedRunner[] = [];
    expect(
      planHandoffs({
        queued: [job('gpu', 0, { labels: ['gpu'] }), job('trusted', 0, { trust: 'trusted' }), job('any')],
        here,
        others,
        afterMs: 0,
      }),
    ).toEqual([
      // A job without labels may run on a runner with some; a trusted one not on a donor.
      { jobId: 'gpu', to: 'gw-gpu' },
      { jobId: 'trusted', to: 'gw-gpu' },
      { jobId: 'any', to: 'gw-donor' },
    ]);
    expect(
      planHandoffs({ queued: [job('r', 0, { refusedBy: ['g', 'd'] })], here, others, afterMs: 0 }),
    ).toEqual([]);
  });
});

describe('planHandoffs, again before the fleet is read again', () => {
  it('counts the jobs sent since as taking slots', () => {
    const input = {
      queued: [job('a', 5_000)],
      here: [runner('h', { slots: 1, load: 1 })],
      others: [{ gateway: 'gw-x', runners: [runner('x', { slots: 2, load: 0 })] }],
      afterMs: 1_000,
    };
    expect(planHandoffs({ ...input, sent: new Map([['gw-x', 1]]) })).toEqual([{ jobId: 'a', to: 'gw-x' }]);
    expect(planHandoffs({ ...input, sent: new Map([['gw-x', 2]]) })).toEqual([]);
  });
});
