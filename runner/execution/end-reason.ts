// How a stage ended, from the facts the runner has: its own kill decision, the exit code docker
// reports for the exec, and (only for 137) whether the container was OOM-killed.
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

export const EXIT_SIGKILL = 128 + 9;
export const EXIT_SIGXCPU = 128 + 24;

/** Name of signal n (1..64), or null. */
export function signalName(n: number): string | null {
  if (!Number.isInteger(n) || n < 1 || n > SIGRTMAX) return null;
  if (n < SIGNAL_NAMES.length) return SIGNAL_NAMES[n] ?? null;
  if (n < SIGRTMIN) return `SIG${n}`;
  return n === SIGRTMIN ? 'SIGRTMIN' : `SIGRTMIN+${n - SIGRTMIN}`;
}

/**
 * Docker reports an exec'd process killed by signal n as exit code 128+n (verified: SIGSEGV 139,
 * SIGKILL 137, SIGXCPU 152). A program that calls exit(139) looks the same; nothing tells them apart.
 */
export function signalFromExitCode(code: number | null): string | null {
  if (code === null || code <= 128) return null;
  return signalName(code - 128);
}

/** Why the runner itself killed the container, if it did. */
export type RunnerKill = 'wall_time' | 'output_limit' | 'cancelled';

export interface StageFacts {
  killedBy: RunnerKill | null;
  exitCode: number | null;
  /** State.OOMKilled of the container; only looked up when the exit code is 137. */
  oomKilled: boolean;
  /** Whether the stage ran under the job's CPU limit (the run stage does; compile does not). */
  cpuLimited: boolean;
  /**
   * The earliest wall time at which the process can have used up its hard CPU limit: RLIMIT_CPU
   * hard seconds spread over the container's CPUs, less one CFS period (quota is enforced per
   * 100 ms period, so CPU time may run slightly ahead of wall time).
   */
  cpuHardReachableMs: number;
  wallMs: number;
}

export interface StageEnd {
  reason: EndReason;
  exit_code: number | null;
  signal: string | null;
}

const CFS_PERIOD_MS = 100;

/** See StageFacts.cpuHardReachableMs. */
export function cpuHardReachableMs(cpuHardSeconds: number, cpus: number): number {
  return (cpuHardSeconds * 1000) / Math.max(cpus, 1) - CFS_PERIOD_MS;
}

export function decideEnd(facts: StageFacts): StageEnd {
  if (facts.killedBy !== null) return { reason: facts.killedBy, exit_code: null, signal: 'SIGKILL' };
  const signal = signalFromExitCode(facts.exitCode);
  if (facts.exitCode === EXIT_SIGKILL && facts.oomKilled) {
    return { reason: 'memory', exit_code: facts.exitCode, signal };
  }
  if (facts.cpuLimited && facts.exitCode === EXIT_SIGXCPU) {
    return { reason: 'cpu_time', exit_code: facts.exitCode, signal };
  }
  // A program that catches SIGXCPU gets SIGKILL at the hard limit. Nothing reports which limit
  // killed it; a SIGKILL (not OOM) no sooner than the hard limit could be reached is taken as it.
  if (facts.cpuLimited && facts.exitCode === EXIT_SIGKILL && facts.wallMs >= facts.cpuHardReachableMs) {
    return { reason: 'cpu_time', exit_code: facts.exitCode, signal };
  }
  if (signal !== null) return { reason: 'signal', exit_code: facts.exitCode, signal };
  return { reason: 'exited', exit_code: facts.exitCode, signal: null };
}
