import { describe, expect, it } from 'vitest';
import type { RunnerRow } from './dashboard-state.js';
import { adminJob, iso, NOW, runnerView } from './fixtures.js';
import {
  formatAge,
  formatDuration,
  heartbeat,
  jobBadge,
  jobTimings,
  runnerState,
  shortId,
} from './format.js';

describe('formatAge', () => {
  it.each([
    [-5, 'now'],
    [0, 'now'],
    [999, 'now'],
    [1_000, '1 s ago'],
    [3_400, '3 s ago'],
    [59_999, '59 s ago'],
    [60_000, '1 min ago'],
    [3_599_000, '59 min ago'],
    [3_600_000, '1 h ago'],
    [86_400_000 * 3, '3 d ago'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatAge(ms)).toBe(text);
  });
});

describe('formatDuration', () => {
  it.each([
    [null, '—'],
    [Number.NaN, '—'],
    [0, '0 ms'],
    [45.4, '45 ms'],
    [999, '999 ms'],
    [1_000, '1.0 s'],
    [1_249, '1.2 s'],
    [9_999, '9.9 s'],
    [12_400, '12 s'],
    [60_000, '1 min'],
    [65_000, '1 min 5 s'],
    [3_600_000, '1 h'],
    [3_780_000, '1 h 3 min'],
  ])('%s → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('jobTimings', () => {
  it('counts a waiting job up from its creation', () => {
    const job = adminJob({
      status: 'queued',
      created_at: iso(NOW - 2_500),
      started_at: null,
      finished_at: null,
      runner: null,
      timings: { queue_ms: null, compile_ms: null, run_ms: null, total_ms: null },
    });
    expect(jobTimings(job, NOW)).toEqual({
      queue: { ms: 2_500, live: true },
      run: { ms: null, live: false },
      total: { ms: 2_500, live: true },
    });
  });

  it('counts a running job up from its start, its queue wait fixed', () => {
    const job = adminJob({
      status: 'running',
      created_at: iso(NOW - 3_000),
      started_at: iso(NOW - 2_000),
      finished_at: null,
      timings: { queue_ms: 1_000, compile_ms: null, run_ms: null, total_ms: null },
    });
    expect(jobTimings(job, NOW)).toEqual({
      queue: { ms: 1_000, live: false },
      run: { ms: 2_000, live: true },
      total: { ms: 3_000, live: true },
    });
  });

  it("shows a finished job's own timings, compile included in its run time", () => {
    const job = adminJob({ timings: { queue_ms: 145, compile_ms: 300, run_ms: 64, total_ms: 600 } });
    expect(jobTimings(job, NOW)).toEqual({
      queue: { ms: 145, live: false },
      run: { ms: 364, live: false },
      total: { ms: 600, live: false },
    });
  });

  it('falls back to its times when a finished job has no total (it never ran)', () => {
    const job = adminJob({
      status: 'cancelled',
      created_at: iso(NOW - 1_000),
      started_at: null,
      finished_at: iso(NOW - 400),
      timings: { queue_ms: null, compile_ms: null, run_ms: null, total_ms: null },
    });
    expect(jobTimings(job, NOW).total).toEqual({ ms: 600, live: false });
  });
});

describe('jobBadge', () => {
  it.each([
    [{ status: 'queued', attempt: 0 }, 'queued', 'waiting'],
    [{ status: 'queued', attempt: 1 }, 'requeued', 'waiting'],
    [{ status: 'running' }, 'running', 'active'],
    [{ status: 'done', reason: 'exited', exit_code: 0 }, 'done', 'ok'],
    [{ status: 'done', reason: 'exited', exit_code: 1 }, 'exit 1', 'warn'],
    [{ status: 'done', reason: 'wall_time', exit_code: null }, 'wall time', 'warn'],
    [{ status: 'done', reason: 'compile_failed', exit_code: 1 }, 'compile failed', 'warn'],
    [{ status: 'done', reason: 'cancelled' }, 'cancelled', 'muted'],
    [{ status: 'cancelled' }, 'cancelled', 'muted'],
    [{ status: 'failed', error: 'runner_lost' }, 'failed: runner_lost', 'bad'],
  ] as const)('%o → %s', (over, label, tone) => {
    expect(jobBadge(adminJob(over))).toEqual({ label, tone });
  });
});

const row = (over: Partial<RunnerRow> = {}): RunnerRow => ({
  ...runnerView(),
  connected: true,
  left_at: null,
  left_reason: null,
  ...over,
});

describe('runners', () => {
  it.each([
    [{}, 'connected', 'ok'],
    [{ state: 'paused' }, 'paused', 'muted'],
    [{ state: 'draining' }, 'draining', 'warn'],
    [{ state: 'quarantined' }, 'quarantined', 'bad'],
    [{ connected: false }, 'disconnected', 'bad'],
  ] as const)('state %o → %s', (over, label, tone) => {
    expect(runnerState(row(over))).toEqual({ label, tone });
  });

  it('says how long ago the last heartbeat was, and late past two intervals', () => {
    expect(heartbeat(row({ last_seen_at: iso(NOW - 3_200) }), NOW, 5_000)).toEqual({
      text: '3 s ago',
      late: false,
    });
    expect(heartbeat(row({ last_seen_at: iso(NOW - 11_000) }), NOW, 5_000)).toEqual({
      text: '11 s ago',
      late: true,
    });
    expect(heartbeat(row({ connected: false, left_at: NOW - 120_000 }), NOW, 5_000)).toEqual({
      text: 'left 2 min ago',
      late: false,
    });
  });
});

describe('shortId', () => {
  it('keeps the first group of a UUID', () => {
    expect(shortId('7d186980-37de-49f2-9ce9-fc824bf9403c')).toBe('7d186980');
    expect(shortId('abc')).toBe('abc');
  });
});
