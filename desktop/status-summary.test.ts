import { describe, expect, it } from 'vitest';
import type { DonorStatus } from '../shared/donor.js';
import type { DesktopStatus } from './ipc-api.js';
import { desktopStatus, FIXTURE_NOW } from './status-fixtures.js';
import { controls, statusLine, tone } from './status-summary.js';

const paused = (reason: DonorStatus['reason'], more: Partial<DonorStatus> = {}) =>
  desktopStatus({ state: 'paused', reason, running: 0, jobs: [], ...more });

describe('statusLine', () => {
  const cases: [string, DesktopStatus, string][] = [
    ['donating with jobs', desktopStatus(), 'Donating — 2 jobs'],
    ['donating one job', desktopStatus({ running: 1 }), 'Donating — 1 job'],
    ['donating, idle', desktopStatus({ running: 0, jobs: [] }), 'Donating — waiting for work'],
    ['on battery', paused('on_battery', { reason_text: 'on battery (34 %)' }), 'Paused: on battery'],
    ['waiting for idle', paused('waiting_for_idle'), 'Waiting for idle'],
    ['outside the schedule', paused('outside_schedule'), 'Paused: outside the schedule'],
    ['budget', paused('budget_spent'), "Paused: today's CPU budget is spent"],
    [
      'finishing because the owner came back',
      desktopStatus({ state: 'finishing', reason: 'user_active', running: 1 }),
      'Finishing 1 job: you are using the computer',
    ],
    [
      'paused by the owner for an hour',
      paused('paused_by_owner', { paused_until: FIXTURE_NOW + 3_600_000 }),
      'Paused until 15:00',
    ],
    [
      'paused by the owner until tomorrow',
      paused('paused_by_owner', { paused_until: new Date(2026, 2, 11, 8).getTime() }),
      'Paused until tomorrow 08:00',
    ],
    [
      'paused by the owner indefinitely',
      paused('paused_by_owner', { paused_until: null }),
      'Paused until you resume',
    ],
    [
      'finishing for the owner',
      desktopStatus({ state: 'finishing', reason: 'finishing_by_owner' }),
      'Finishing 2 jobs, then pausing',
    ],
    [
      'gateway unreachable',
      desktopStatus({ connection: { state: 'retrying', gateway: 'https://g', retry_in_ms: 8_000 } }),
      'Gateway unreachable, retrying in 8 s',
    ],
    [
      'gateway retry due',
      desktopStatus({
        at: FIXTURE_NOW - 9_000,
        connection: { state: 'retrying', gateway: 'https://g', retry_in_ms: 8_000 },
      }),
      'Gateway unreachable, retrying now',
    ],
    [
      'gateway refused the token',
      desktopStatus({ connection: { state: 'refused', gateway: 'https://g', message: 'bad token' } }),
      'Gateway refused this computer — open Settings',
    ],
    [
      'connecting',
      desktopStatus({ running: 0, jobs: [], connection: { state: 'connecting', gateway: 'https://g' } }),
      'Connecting to the gateway…',
    ],
    [
      'no Docker engine, whatever the rest says',
      desktopStatus({
        engine_problem: 'Start Docker Desktop',
        connection: { state: 'retrying', gateway: 'g' },
      }),
      'Docker engine not available — how to fix',
    ],
    ['starting', desktopStatus({ state: 'starting', reason: 'starting' }), 'Starting…'],
    [
      'not enrolled',
      desktopStatus({ state: 'stopped', reason: 'stopped' }, { kind: 'not_enrolled', text: '…' }),
      'Not set up yet — enter the gateway and token',
    ],
    [
      'damaged settings',
      desktopStatus({ state: 'stopped', reason: 'stopped' }, { kind: 'settings_damaged', text: '…' }),
      'Settings file damaged — open Settings',
    ],
  ];
  it.each(cases)('%s', (_, status, line) => {
    expect(statusLine(status, FIXTURE_NOW)).toBe(line);
  });
});

describe('tone', () => {
  it.each([
    [desktopStatus(), 'donating'],
    [paused('on_battery'), 'waiting'],
    [paused('paused_by_owner', { paused_until: null }), 'owner'],
    [desktopStatus({ engine_problem: 'no engine' }), 'problem'],
    [desktopStatus({ connection: { state: 'retrying', gateway: 'g', retry_in_ms: 1 } }), 'problem'],
    [desktopStatus({ state: 'stopped', reason: 'stopped' }), 'stopped'],
    [desktopStatus({ state: 'stopped' }, { kind: 'not_enrolled', text: '' }), 'problem'],
  ] as const)('%#: %s', (status, expected) => {
    expect(tone(status)).toBe(expected);
  });
});

describe('controls', () => {
  it.each([
    ['donating', desktopStatus(), { pause: true, finish: true, resume: false }],
    ['paused by the policy', paused('on_battery'), { pause: true, finish: true, resume: false }],
    [
      'paused by the owner for a while',
      paused('paused_by_owner', { paused_until: FIXTURE_NOW + 1 }),
      { pause: true, finish: false, resume: true },
    ],
    [
      'paused by the owner indefinitely',
      paused('paused_by_owner', { paused_until: null }),
      { pause: false, finish: false, resume: true },
    ],
    [
      'finishing for the owner',
      desktopStatus({ state: 'finishing', reason: 'finishing_by_owner' }),
      { pause: true, finish: false, resume: true },
    ],
    [
      'stopped',
      desktopStatus({ state: 'stopped', reason: 'stopped' }),
      { pause: false, finish: false, resume: false },
    ],
    [
      'not set up',
      desktopStatus({}, { kind: 'not_enrolled', text: '' }),
      { pause: false, finish: false, resume: false },
    ],
  ])('%s', (_, status, expected) => {
    expect(controls(status)).toEqual(expected);
  });
});
