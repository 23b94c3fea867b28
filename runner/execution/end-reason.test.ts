import { describe, expect, it } from 'vitest';
import {
  cpuHardReachableMs,
  decideEnd,
  guessSignal,
  type ProgramEnd,
  type StageFacts,
  signalName,
} from './end-reason.js';

const exited = (code: number, cpuMs = 5): ProgramEnd => ({ exited: code, signal: null, cpuMs });
const killed = (signal: number, cpuMs = 5): ProgramEnd => ({ exited: null, signal, cpuMs });

describe('signal names, and the guess from an exit code when the waiter did not say', () => {
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
    expect(signalName(guessSignal(code) ?? 0)).toBe(name);
  });

  it.each([0, 1, 2, 127, 128, 128 + 65, 255, null])('exit code %s is no signal', (code) => {
    expect(guessSignal(code)).toBeNull();
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
    program: exited(0),
    exitCode: 0,
    oomKilled: false,
    cpuLimited: true,
    cpuHardReachableMs: cpuHardReachableMs(3, 1),
    cpuHardMs: 3000,
    wallMs: 100,
  };
  it.each<[string, Partial<StageFacts>, { reason: string; exit_code: number | null; signal: string | null }]>(
    [
      ['a clean exit', {}, { reason: 'exited', exit_code: 0, signal: null }],
      [
        'a failing exit',
        { program: exited(3), exitCode: 3 },
        { reason: 'exited', exit_code: 3, signal: null },
      ],
      [
        'exit(137) is an exit, not a SIGKILL',
        { program: exited(137), exitCode: 137 },
        { reason: 'exited', exit_code: 137, signal: null },
      ],
      [
        'exit(139) is an exit, not a SIGSEGV',
        { program: exited(139), exitCode: 139 },
        { reason: 'exited', exit_code: 139, signal: null },
      ],
      [
        'exit(152) is not the CPU limit',
        { program: exited(152), exitCode: 152 },
        { reason: 'exited', exit_code: 152, signal: null },
      ],
      [
        'wall time',
        { killedBy: 'wall_time', program: null, exitCode: 137 },
        { reason: 'wall_time', exit_code: null, signal: 'SIGKILL' },
      ],
      [
        'output cap',
        { killedBy: 'output_limit', program: null, exitCode: null },
        { reason: 'output_limit', exit_code: null, signal: 'SIGKILL' },
      ],
      ['cancel', { killedBy: 'cancelled' }, { reason: 'cancelled', exit_code: null, signal: 'SIGKILL' }],
      [
        'the runner kill wins over OOM',
        { killedBy: 'wall_time', program: null, exitCode: 137, oomKilled: true },
        { reason: 'wall_time', exit_code: null, signal: 'SIGKILL' },
      ],
      [
        'OOM',
        { program: killed(9), exitCode: 137, oomKilled: true },
        { reason: 'memory', exit_code: 137, signal: 'SIGKILL' },
      ],
      [
        'OOM that killed the waiter too',
        { program: null, exitCode: 137, oomKilled: true },
        { reason: 'memory', exit_code: 137, signal: 'SIGKILL' },
      ],
      [
        'SIGXCPU',
        { program: killed(24), exitCode: 152 },
        { reason: 'cpu_time', exit_code: 152, signal: 'SIGXCPU' },
      ],
      [
        'SIGXCPU without a CPU limit',
        { program: killed(24), exitCode: 152, cpuLimited: false },
        { reason: 'signal', exit_code: 152, signal: 'SIGXCPU' },
      ],
      [
        'SIGKILL at the hard CPU limit',
        { program: killed(9, 3000), exitCode: 137, wallMs: 2950 },
        { reason: 'cpu_time', exit_code: 137, signal: 'SIGKILL' },
      ],
      [
        'SIGKILL at the hard CPU limit, the precise CPU time below the ticks the kernel counted',
        { program: killed(9, 2700), exitCode: 137, wallMs: 3100 },
        { reason: 'cpu_time', exit_code: 137, signal: 'SIGKILL' },
      ],
      [
        'SIGKILL late, but by a program that used too little CPU for the limit',
        { program: killed(9, 1200), exitCode: 137, wallMs: 2950 },
        { reason: 'signal', exit_code: 137, signal: 'SIGKILL' },
      ],
      [
        'SIGKILL late, with no record (the guess by wall time alone)',
        { program: null, exitCode: 137, wallMs: 2950 },
        { reason: 'cpu_time', exit_code: 137, signal: 'SIGKILL' },
      ],
      [
        'SIGKILL well before it',
        { program: killed(9, 400), exitCode: 137, wallMs: 500 },
        { reason: 'signal', exit_code: 137, signal: 'SIGKILL' },
      ],
      [
        'SIGSEGV',
        { program: killed(11), exitCode: 139 },
        { reason: 'signal', exit_code: 139, signal: 'SIGSEGV' },
      ],
      [
        'the record wins over the exec exit code (sh could not fork the tar after it)',
        { program: killed(11), exitCode: 2 },
        { reason: 'signal', exit_code: 139, signal: 'SIGSEGV' },
      ],
      [
        'no record: setup failed before the program ran',
        { program: null, exitCode: 125 },
        { reason: 'exited', exit_code: 125, signal: null },
      ],
      [
        'no record, 139: guessed as before',
        { program: null, exitCode: 139 },
        { reason: 'signal', exit_code: 139, signal: 'SIGSEGV' },
      ],
      [
        'an unknown exit code',
        { program: null, exitCode: null },
        { reason: 'exited', exit_code: null, signal: null },
      ],
    ],
  )('%s', (_name, facts, end) => {
    expect(decideEnd({ ...base, ...facts })).toEqual(end);
  });

  it('allows for more CPUs using the hard limit sooner', () => {
    expect(cpuHardReachableMs(4, 2)).toBe(1900);
  });
});
