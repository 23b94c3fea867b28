// How a stage ended, from the facts the runner has: its own kill decision, how the program ended as
// the stage script's waiter saw it (exited with a code, or killed by signal n, and its CPU time),
// the exit code docker reports for the exec, and (only for SIGKILL) whether it was an OOM kill.
import type { EndReason } from '../../shared/job.js';

/** Linux signal numbers (the sandbox is always Linux, whatever the runner's host OS is). */
const SIGNAL_NAMES: readonly string[] = [
  '',
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGILL',
  'SIGTRAP',
  'SIGABRT',
  'SIGBUS',
  'SIGFPE',
  'SIGKILL',
  'SIGUSR1',
  'SIGSEGV',
  'SIGUSR2',
  'SIGPIPE',
  'SIGALRM',
  'SIGTERM',
  'SIGSTKFLT',
  'SIGCHLD',
  'SIGCONT',
  'SIGSTOP',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGURG',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGVTALRM',
  'SIGPROF',
  'SIGWINCH',
  'SIGIO',
  'SIGPWR',
  'SIGSYS',
];
const SIGRTMIN = 34;
const SIGRTMAX = 64;

export const SIGKILL = 9;
const SIGXCPU = 24;

/** Name of signal n (1..64), or null. */
export function signalName(n: number): string | null {
  if (!Number.isInteger(n) || n < 1 || n > SIGRTMAX) return null;
  if (n < SIGNAL_NAMES.length) return SIGNAL_NAMES[n] ?? null;
  if (n < SIGRTMIN) return `SIG${n}`;
  return n === SIGRTMIN ? 'SIGRTMIN' : `SIGRTMIN+${n - SIGRTMIN}`;
}

/**
 * How the program ended, from the stage script's own waitpid (stage-command.ts): it exited with a
 * code, or a signal killed it. cpuMs: the CPU time (user + sys) of the program and of the children
 * it waited for.
 */
export type ProgramEnd =
  | { exited: number; signal: null; cpuMs: number }
  | { exited: null; signal: number; cpuMs: number };

/**
 * The guess when the stage script could not say (it was killed itself, or failed before the
 * program ran): docker reports a process killed by signal n as exit code 128+n (verified: SIGSEGV
 * 139, SIGKILL 137, SIGXCPU 152), and so would a program that calls exit(139).
 */
export function guessSignal(code: number | null): number | null {
  return code === null || signalName(code - 128) === null ? null : code - 128;
}

/** Why the runner itself killed the container, if it did. */
export type RunnerKill = 'wall_time' | 'output_limit' | 'cancelled';

export interface StageFacts {
  killedBy: RunnerKill | null;
  /** What the stage script reported; null when it did not (then exitCode is all there is). */
  program: ProgramEnd | null;
  /** The exec's exit code as docker reports it (128+n for a signal death). */
  exitCode: number | null;
  /** Whether a SIGKILL was the OOM killer's; only looked up for a SIGKILL (see stageSignal). */
  oomKilled: boolean;
  /** Whether the stage ran under the job's CPU limit (the run stage does; compile does not). */
  cpuLimited: boolean;
  /**
   * The earliest wall time at which the process can have used up its hard CPU limit: RLIMIT_CPU
   * hard seconds spread over the container's CPUs, less one CFS period (quota is enforced per
   * 100 ms period, so CPU time may run slightly ahead of wall time).
   */
  cpuHardReachableMs: number;
  /** RLIMIT_CPU hard, in ms: a program killed by it has used about this much CPU. */
  cpuHardMs: number;
  wallMs: number;
}

export interface StageEnd {
  reason: EndReason;
  exit_code: number | null;
  signal: string | null;
}

const CFS_PERIOD_MS = 100;
/**
 * The share of the hard CPU limit a program must have used to be taken as killed by it. Not all of
 * it: the kernel checks RLIMIT_CPU against tick-sampled time, while times() reports the precise
 * run time, which is lower for a program that runs in slices (measured: 930 ms at a 1 s limit on a
 * loaded 2-core machine). Enough to tell a program that barely ran (sleeping, then killed).
 */
const CPU_HARD_SHARE = 0.5;

/** See StageFacts.cpuHardReachableMs. */
export function cpuHardReachableMs(cpuHardSeconds: number, cpus: number): number {
  return (cpuHardSeconds * 1000) / Math.max(cpus, 1) - CFS_PERIOD_MS;
}

/** The signal number the stage died of, if any (by the waiter's report, else guessed from 128+n). */
export function stageSignal(program: ProgramEnd | null, exitCode: number | null): number | null {
  return program === null ? guessSignal(exitCode) : program.signal;
}

export function decideEnd(facts: StageFacts): StageEnd {
  if (facts.killedBy !== null) return { reason: facts.killedBy, exit_code: null, signal: 'SIGKILL' };
  const { program } = facts;
  const signo = stageSignal(program, facts.exitCode);
  // A signal death keeps docker's convention, 128+n, in exit_code.
  const exit_code = program === null ? facts.exitCode : (program.exited ?? 128 + program.signal);
  if (signo === null) return { reason: 'exited', exit_code, signal: null };
  const signal = signalName(signo);
  if (signo === SIGKILL && facts.oomKilled) return { reason: 'memory', exit_code, signal };
  if (facts.cpuLimited && signo === SIGXCPU) return { reason: 'cpu_time', exit_code, signal };
  // A program that catches SIGXCPU gets SIGKILL at the hard limit. Nothing says which limit killed
  // it: a SIGKILL (not OOM) no sooner than the hard limit could be reached, by a program that used
  // about that much CPU (when the waiter said), is taken as it.
  if (
    facts.cpuLimited &&
    signo === SIGKILL &&
    facts.wallMs >= facts.cpuHardReachableMs &&
    (program === null || program.cpuMs >= facts.cpuHardMs * CPU_HARD_SHARE)
  ) {
    return { reason: 'cpu_time', exit_code, signal };
  }
  return { reason: 'signal', exit_code, signal };
}
