// `codeexec donor`'s command line: what runs the donor, what steers it, durations, the refusals
// (strict options, clear messages) and the status for people.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DonorStatus } from '../shared/donor.js';
import { formatStatus, parseDonorArgs, parseDuration, UsageError } from './donor.js';

const NOW = Date.parse('2026-05-06T12:00:00Z');
const DEFAULT_DIR = join(homedir(), '.codeexec', 'donor');

describe('parseDonorArgs', () => {
  it('runs the donor with the token from the environment, or from --token', () => {
    expect(parseDonorArgs(['--gateway', 'http://gw:8080'], { CODEEXEC_DONOR_TOKEN: 'secret' })).toEqual({
      kind: 'run',
      gateway: 'http://gw:8080',
      token: 'secret',
      tokenOnCommandLine: false,
      dataDir: DEFAULT_DIR,
      slots: null,
    });
    expect(
      parseDonorArgs(['--gateway', 'https://gw', '--token', 't', '--data', 'here', '--slots', '3'], {}),
    ).toMatchObject({ token: 't', tokenOnCommandLine: true, dataDir: resolve('here'), slots: 3 });
    expect(
      parseDonorArgs([], { CODEEXEC_GATEWAY_URL: 'http://gw', CODEEXEC_DONOR_TOKEN: 't' }),
    ).toMatchObject({
      gateway: 'http://gw',
    });
  });

  it.each([
    [['--gateway', 'http://gw'], {}, /CODEEXEC_DONOR_TOKEN/],
    [[], { CODEEXEC_DONOR_TOKEN: 't' }, /--gateway URL/],
    [['--gateway', 'gw:8080'], { CODEEXEC_DONOR_TOKEN: 't' }, /http\(s\):\/\/host:port/],
    [['--gateway', 'http://gw', '--slots', '0'], { CODEEXEC_DONOR_TOKEN: 't' }, /--slots must be/],
    [['--gateway', 'http://gw', '--slots', '2.5'], { CODEEXEC_DONOR_TOKEN: 't' }, /--slots must be/],
    [['--gateway', 'http://gw', '--slot', '2'], { CODEEXEC_DONOR_TOKEN: 't' }, /Unknown option '--slot'/],
    [['--gateway'], { CODEEXEC_DONOR_TOKEN: 't' }, /--gateway/],
    [['stop'], {}, /unknown donor command "stop"/],
    [['status', '--for', '1h'], {}, /Unknown option '--for'.*donor status/],
    [['pause', 'now'], {}, /Unexpected argument 'now'.*donor pause/],
    [['pause', '--for', 'a while'], {}, /duration like 90s/],
  ])('refuses %j', (argv, env, message) => {
    expect(() => parseDonorArgs(argv, env)).toThrow(UsageError);
    expect(() => parseDonorArgs(argv, env)).toThrow(message);
  });

  it('makes control requests for status, pause (for a while or until resumed), resume and finish', () => {
    expect(parseDonorArgs(['status', '--json', '--data', '/d'], {}, NOW)).toEqual({
      kind: 'control',
      request: { cmd: 'status' },
      json: true,
      dataDir: '/d',
    });
    expect(parseDonorArgs(['pause', '--for', '30m'], {}, NOW)).toMatchObject({
      request: { cmd: 'pause', until: NOW + 30 * 60_000 },
      json: false,
      dataDir: DEFAULT_DIR,
    });
    expect(parseDonorArgs(['pause'], {}, NOW)).toMatchObject({ request: { cmd: 'pause', until: null } });
    expect(parseDonorArgs(['resume'], {}, NOW)).toMatchObject({ request: { cmd: 'resume' } });
    expect(parseDonorArgs(['finish', '--wait'], {}, NOW)).toMatchObject({
      request: { cmd: 'finish', wait: true },
    });
    expect(parseDonorArgs(['status', '-h'], {})).toEqual({ kind: 'help' });
  });
});

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['1h', 3_600_000],
    ['2h30m', 9_000_000],
    ['1.5h', 5_400_000],
    ['1d', 86_400_000],
    [' 1H ', 3_600_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '10', 'h', '1h 30m', '1w', '-1h', '0s', '400d'])('refuses %j', (text) => {
    expect(() => parseDuration(text)).toThrow(UsageError);
  });
});

describe('formatStatus', () => {
  it('says what the donor does, why, and what it has given', () => {
    const status: DonorStatus = {
      at: NOW,
      state: 'paused',
      reason: 'paused_by_owner',
      reason_text: 'Paused until you resume',
      running: 1,
      jobs: [{ id: 'j1', lang: 'python', started_at: NOW - 12_000 }],
      jobs_done: 7,
      jobs_today: 2,
      cpu_seconds: 12.34,
      cpu_seconds_today: 1.5,
      paused_until: null,
      connection: { state: 'retrying', gateway: 'http://gw', retry_in_ms: 4000 },
      engine_problem: 'Docker is not running',
      caps: { slots: 2, cpus: 0.5, memory_mb: 512, languages: ['python'] },
      log: [{ at: NOW, level: 'info', msg: 'donating → paused: Paused until you resume' }],
    };
    const text = formatStatus(status, NOW);
    expect(text).toMatch(/^paused: Paused until you resume\n/);
    expect(text).toContain('gateway:  http://gw (retrying in 4 s)');
    expect(text).toContain('docker:   Docker is not running');
    expect(text).toContain('paused:   until resumed');
    expect(text).toContain('running:  1 job(s)\n          j1 (python, 12 s)');
    expect(text).toContain('given:    7 job(s), 12.3 CPU s in all; 2 job(s), 1.5 CPU s today');
    expect(text).toContain('offers:   2 job(s) at once, 0.5 CPU and 512 MiB each; python');
    expect(text).toMatch(/recent:\n {2}\S+ {2}donating → paused/);
  });
});
