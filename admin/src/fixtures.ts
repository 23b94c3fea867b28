// Runner views and jobs for the dashboard's unit tests: plausible values, each field overridable.
import type { AdminJob } from '../../shared/admin-protocol.js';
import type { RunnerView } from '../../shared/rest.js';

export const NOW = Date.parse('2026-05-04T12:00:00.000Z');
export const iso = (ms: number) => new Date(ms).toISOString();

export function runnerView(over: Partial<RunnerView> = {}): RunnerView {
  return {
    name: 'runner-a',
    identity: 'runner-a',
    tier: 'trusted',
    state: 'ready',
    version: '0.1.0',
    slots: 4,
    load: 1,
    running: 1,
    jobs_done: 12,
    languages: ['go', 'python'],
    labels: [],
    reliability: { agreed: 0, disagreed: 0, streak: 0, rate: null, standing: 'good', quarantined: false },
    last_seen_at: iso(NOW - 3_000),
    ...over,
  };
}

export function adminJob(over: Partial<AdminJob> = {}): AdminJob {
  return {
    id: '7d186980-37de-49f2-9ce9-fc824bf9403c',
    lang: 'python',
    status: 'done',
    reason: 'exited',
    exit_code: 0,
    error: null,
    client: 'key:0123456789ab',
    runner: 'runner-a',
    attempt: 1,
    created_at: iso(NOW - 10_000),
    started_at: iso(NOW - 9_855),
    finished_at: iso(NOW - 9_600),
    timings: { queue_ms: 145, compile_ms: null, run_ms: 64, total_ms: 400 },
    ...over,
  };
}
