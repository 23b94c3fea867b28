import { describe, expect, it } from 'vitest';
import {
  cpuHardReachableMs,
  decideEnd,
  type StageFacts,
  signalFromExitCode,
  signalName,
} from './end-reason.js';

describe('signal names', () => {
  it.each([
    [139, 'SIGSEGV'],
    [137, 'SIGKILL'],
    [134, 'SIGABRT'],
    [152, 'SIGXCPU'],
    [153, 'SIGXFSZ'],
    [143, 'SIGTERM'],
    [141, 'SIGPIPE'],
    [128 + 34, 'SIGRTMIN'],
    [128 + 40, 'SIGRTMIN+6'],
  ])('exit code %i is %s', (code, name) => {
    expect(signalFromExitCode(code)).toBe(name);
  });

  it.each([0, 1, 2, 127, 128, 128 + 65, 255, null])('exit code %s is no signal', (code) => {
    expect(signalFromExitCode(code)).toBeNull();
  });

  it('names only 1..64', () => {
    expect(signalName(0)).toBeNull();
    expect(signalName(65)).toBeNull();
    expect(signalName(1.5)).toBeNull();
  });
});

describe('decideEnd', () => {
  const base: StageFacts = {
    killedBy: null,
    exitCode: 0,
    oomKilled: false,
    cpuLimited: true,
    cpuHardReachableMs: cpuHardReachableMs(3, 1),
    wallMs: 100,
  };
  it.each<[string, Partial<StageFacts>, { reason: string; exit_code: number | null; signal: string | null }]>(
    [
      ['a clean exit', {}, { reason: 'exited', exit_code: 0, signal: null }],
      ['a failing exit', { exitCode: 3 }, { reason: 'exited', exit_code: 3, signal: null }],
      [
        'wall time',
        { killedBy: 'wall_time', exitCode: 137 },
        { reason: 'wall_time', exit_code: null, signal: 'SIGKILL' },
      ],
      [
        'output cap',
        { killedBy: 'output_limit', exitCode: null },
        { reason: 'output_limit', exit_code: null, signal: 'SIGKILL' },
      ],
      ['cancel', { killedBy: 'cancelled' }, { reason: 'cancelled', exit_code: null, signal: 'SIGKILL' }],
      [
        'the runner kill wins over OOM',
        { killedBy: 'wall_time', exitCode: 137, oomKilled: true },
        { reason: 'wall_time', exit_code: null, signal: 'SIGKILL' },
      ],
      ['OOM', { exitCode: 137, oomKilled: true }, { reason: 'memory', exit_code: 137, signal: 'SIGKILL' }],
      ['SIGXCPU', { exitCode: 152 }, { reason: 'cpu_time', exit_code: 152, signal: 'SIGXCPU' }],
      [
        'SIGXCPU without a CPU limit',
        { exitCode: 152, cpuLimited: false },
        { reason: 'signal', exit_code: 152, signal: 'SIGXCPU' },
      ],
      [
        'SIGKILL at the hard CPU limit',
        { exitCode: 137, wallMs: 2950 },
        { reason: 'cpu_time', exit_code: 137, signal: 'SIGKILL' },
      ],
      [
        'SIGKILL well before it',
        { exitCode: 137, wallMs: 500 },
        { reason: 'signal', exit_code: 137, signal: 'SIGKILL' },
      ],
      ['SIGSEGV', { exitCode: 139 }, { reason: 'signal', exit_code: 139, signal: 'SIGSEGV' }],
      ['an unknown exit code', { exitCode: null }, { reason: 'exited', exit_code: null, signal: null }],
    ],
  )('%s', (_name, facts, end) => {
    expect(decideEnd({ ...base, ...facts })).toEqual(end);
  });

  it('allows for more CPUs using the hard limit sooner', () => {
    expect(cpuHardReachableMs(4, 2)).toBe(1900);
  });
});
