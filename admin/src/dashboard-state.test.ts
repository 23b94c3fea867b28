import { describe, expect, it } from 'vitest';
import { ADMIN_RECENT_JOBS, type AdminFrame } from '../../shared/admin-protocol.js';
import {
  applyFrame,
  type DashboardState,
  DISCONNECTED_KEEP_MS,
  EMPTY_STATE,
  mergeJobs,
  queueRows,
  totals,
  visibleRunners,
} from './dashboard-state.js';
import { adminJob, iso, NOW, runnerView } from './fixtures.js';

const snapshot = (over: Partial<Extract<AdminFrame, { type: 'snapshot' }>> = {}): AdminFrame => ({
  type: 'snapshot',
  at: iso(NOW),
  heartbeat_ms: 5_000,
  runners: [runnerView()],
  queue: { python: 2 },
  jobs: [adminJob()],
  ...over,
});

/** Applies frames in order, each received `receivedAt`. */
const apply = (frames: AdminFrame[], receivedAt = NOW, from: DashboardState = EMPTY_STATE) =>
  frames.reduce((state, frame) => applyFrame(state, frame, receivedAt), from);

describe('applying frames', () => {
  it('takes everything from a snapshot, and the clock skew from its time', () => {
    const state = apply([snapshot()], NOW - 1_500);
    expect(state.synced).toBe(true);
    expect([...state.runners.keys()]).toEqual(['runner-a']);
    expect(state.runners.get('runner-a')).toMatchObject({ connected: true, left_at: null, load: 1 });
    expect(state.queue).toEqual({ python: 2 });
    expect(state.jobs).toHaveLength(1);
    expect(state.heartbeatMs).toBe(5_000);
    // The gateway's clock is 1.5 s ahead of the page's.
    expect(state.skewMs).toBe(1_500);
  });

  it('replaces a changed runner whole, adds a new one, and marks one that left', () => {
    const state = apply([
      snapshot({ runners: [runnerView(), runnerView({ name: 'runner-b', identity: 'runner-b' })] }),
      {
        type: 'runners',
        at: iso(NOW + 250),
        runners: [runnerView({ load: 3, jobs_done: 13 }), runnerView({ name: 'runner-c', tier: 'donor' })],
        left: [
          { name: 'runner-b', reason: 'heartbeat timeout' },
          { name: 'never-seen', reason: 'closed' },
        ],
      },
    ]);
    expect(state.runners.get('runner-a')).toMatchObject({ load: 3, jobs_done: 13, connected: true });
    expect(state.runners.get('runner-c')).toMatchObject({ tier: 'donor', connected: true });
    expect(state.runners.get('runner-b')).toMatchObject({
      connected: false,
      left_at: NOW + 250,
      left_reason: 'heartbeat timeout',
    });
    expect(state.runners.has('never-seen')).toBe(false);
  });

  it('takes the queue whole: a language no longer listed has nothing waiting', () => {
    const state = apply([snapshot(), { type: 'queue', at: iso(NOW), queue: { go: 1 } }]);
    expect(state.queue).toEqual({ go: 1 });
  });

  it('merges jobs by id: the newest state of each, newest first', () => {
    const old = adminJob({ id: 'old', created_at: iso(NOW - 60_000) });
    const running = adminJob({ id: 'run', status: 'running', created_at: iso(NOW - 5_000) });
    const state = apply([
      snapshot({ jobs: [running, old] }),
      {
        type: 'jobs',
        at: iso(NOW),
        jobs: [
          adminJob({ id: 'new', status: 'queued', created_at: iso(NOW - 100) }),
          { ...running, status: 'done' },
        ],
      },
    ]);
    expect(state.jobs.map((job) => [job.id, job.status])).toEqual([
      ['new', 'queued'],
      ['run', 'done'],
      ['old', 'done'],
    ]);
  });

  it('keeps an error frame out of the state', () => {
    const before = apply([snapshot()]);
    expect(applyFrame(before, { type: 'error', code: 'invalid_frame', message: 'no' }, NOW)).toBe(before);
  });

  it('forgets runners and jobs of a previous connection on a new snapshot', () => {
    const state = apply([snapshot(), snapshot({ runners: [], jobs: [], queue: {} })]);
    expect(state.runners.size).toBe(0);
    expect(state.jobs).toEqual([]);
  });
});

describe('mergeJobs', () => {
  it('keeps the newest ADMIN_RECENT_JOBS by creation', () => {
    const jobs = Array.from({ length: ADMIN_RECENT_JOBS + 5 }, (_, i) =>
      adminJob({ id: `j${i}`, created_at: iso(NOW + i) }),
    );
    const merged = mergeJobs(jobs.slice(0, 30), jobs.slice(30).reverse());
    expect(merged).toHaveLength(ADMIN_RECENT_JOBS);
    expect(merged[0]!.id).toBe(`j${ADMIN_RECENT_JOBS + 4}`);
    expect(merged.at(-1)!.id).toBe('j5');
  });

  it('puts jobs of the same millisecond that came later first', () => {
    const at = iso(NOW);
    const merged = mergeJobs(
      [adminJob({ id: 'a', created_at: at })],
      [adminJob({ id: 'b', created_at: at })],
    );
    expect(merged.map((job) => job.id)).toEqual(['b', 'a']);
  });
});

describe('what the tables show', () => {
  it('lists runners by name; one that left stays for a while, then goes', () => {
    const state = apply([
      snapshot({ runners: [runnerView({ name: 'zeta' }), runnerView({ name: 'alpha' })] }),
      { type: 'runners', at: iso(NOW), runners: [], left: [{ name: 'zeta', reason: 'closed' }] },
    ]);
    expect(visibleRunners(state, NOW + 1_000).map((row) => [row.name, row.connected])).toEqual([
      ['alpha', true],
      ['zeta', false],
    ]);
    expect(visibleRunners(state, NOW + DISCONNECTED_KEEP_MS).map((row) => row.name)).toEqual(['alpha']);
  });

  it('lists the queue by every language offered or waited for, with bars as shares of the longest', () => {
    const state = apply([
      snapshot({
        runners: [runnerView({ languages: ['go', 'python'] })],
        queue: { python: 4, rust: 1 },
      }),
    ]);
    expect(queueRows(state)).toEqual([
      { lang: 'go', depth: 0, share: 0 },
      { lang: 'python', depth: 4, share: 1 },
      { lang: 'rust', depth: 1, share: 0.25 },
    ]);
    expect(queueRows(EMPTY_STATE)).toEqual([]);
  });

  it('adds up runners, slots in use and jobs waiting (a runner that left counts for nothing)', () => {
    const state = apply([
      snapshot({
        runners: [
          runnerView({ name: 'a', slots: 4, load: 2 }),
          runnerView({ name: 'b', slots: 2, load: 3 }), // offers beyond slots: at most its slots
          runnerView({ name: 'c', slots: 8, load: 0 }),
        ],
        queue: { python: 2, go: 1 },
      }),
      { type: 'runners', at: iso(NOW), runners: [], left: [{ name: 'c', reason: 'closed' }] },
    ]);
    expect(totals(state)).toEqual({ runners: 2, used: 4, slots: 6, queued: 3 });
  });
});
