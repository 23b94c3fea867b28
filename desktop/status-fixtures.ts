// Statuses for tests (unit tests and the pages' browser tests): a realistic donating status with
// any part replaced.
import type { DonorStatus } from '../shared/donor.js';
import type { DesktopStatus } from './ipc-api.js';

/** 2026-03-10 14:00:00 local time. */
export const FIXTURE_NOW = new Date(2026, 2, 10, 14, 0, 0).getTime();

export function donorStatus(overrides: Partial<DonorStatus> = {}): DonorStatus {
  return {
    at: FIXTURE_NOW,
    state: 'donating',
    reason: 'donating',
    reason_text: 'donating: the computer is idle',
    running: 2,
    jobs: [
      { id: 'job_7f3a9c2e41', lang: 'python', started_at: FIXTURE_NOW - 75_000 },
      { id: 'job_0b81d4aa90', lang: 'go', started_at: FIXTURE_NOW - 4_000 },
    ],
    jobs_done: 1284,
    jobs_today: 37,
    cpu_seconds: 53_130,
    cpu_seconds_today: 2_710,
    connection: { state: 'connected', gateway: 'https://gateway.example.org' },
    engine_problem: null,
    caps: { slots: 2, cpus: 2, memory_mb: 512, languages: null },
    log: [
      { at: FIXTURE_NOW - 600_000, level: 'info', msg: 'Connected to https://gateway.example.org' },
      { at: FIXTURE_NOW - 75_000, level: 'info', msg: 'Job job_7f3a9c2e41 (python) started' },
      { at: FIXTURE_NOW - 30_000, level: 'warn', msg: 'Job job_55c0 (rust) hit its time limit' },
    ],
    ...overrides,
  };
}

export function desktopStatus(
  overrides: Partial<DonorStatus> = {},
  setup: DesktopStatus['setup'] = null,
): DesktopStatus {
  return { donor: donorStatus(overrides), setup };
}
