// The argv of one stage's exec: a constant sh script that unpacks the job's files from the head of
// stdin, lowers the rlimits to the job's values, then execs the program. Everything variable is a
// positional parameter: the user's code and args are never part of a shell string.
import type { Limits } from '../shared/limits.js';

/**
 * $1 bytes of tar at the head of stdin (0: none), $2/$3 soft/hard CPU seconds, $4 file size in
 * 512-byte blocks (dash's unit), $5 open files; then the program's argv.
 * GNU `head -c N` reads no more than N bytes from a pipe, so the rest of stdin (the job's stdin)
 * reaches the program untouched. Soft CPU < hard CPU so the program gets SIGXCPU (a recognisable
 * 152), not the SIGKILL it gets when both are equal. Soft is lowered before hard: the kernel
 * refuses soft > hard. 125 means the sandbox could not be prepared (the program never ran).
 */
export const STAGE_SCRIPT = [
  'n=$1 cs=$2 ch=$3 fs=$4 nf=$5',
  'shift 5',
  'if [ "$n" -gt 0 ]; then head -c "$n" | tar -x -f - || { echo "codeexec: could not unpack the files" >&2; exit 125; }; fi',
  'ulimit -S -t "$cs" && ulimit -H -t "$ch" && ulimit -f "$fs" && ulimit -n "$nf" || exit 125',
  'exec "$@"',
].join('\n');

export const SETUP_FAILED_EXIT = 125;

/** Per-process rlimits a stage runs under. */
export interface StageUlimits {
  cpuSoftSeconds: number;
  cpuHardSeconds: number;
  fsizeBlocks: number;
  nofile: number;
}

/** The container-wide rlimits: the runner's maximums, with one spare CPU second for soft < hard. */
export function containerUlimits(max: Limits): { nofile: number; fsizeBytes: number; cpuSeconds: number } {
  return {
    nofile: max.open_files,
    fsizeBytes: max.file_size_bytes,
    cpuSeconds: Math.ceil(max.cpu_time_ms / 1000) + 1,
  };
}

/** A job's limits as stage rlimits, never above the container's (a non-root process cannot raise them). */
export function stageUlimits(limits: Limits, max: Limits): StageUlimits {
  const ceiling = containerUlimits(max);
  const cpuSoftSeconds = Math.min(Math.ceil(limits.cpu_time_ms / 1000), ceiling.cpuSeconds - 1);
  return {
    cpuSoftSeconds,
    cpuHardSeconds: cpuSoftSeconds + 1,
    fsizeBlocks: Math.max(
      1,
      Math.min(Math.ceil(limits.file_size_bytes / 512), Math.floor(ceiling.fsizeBytes / 512)),
    ),
    nofile: Math.min(limits.open_files, ceiling.nofile),
  };
}

/** argv for `docker exec`: sh -c STAGE_SCRIPT with the numbers and the program as parameters. */
export function stageArgv(tarBytes: number, ulimits: StageUlimits, program: readonly string[]): string[] {
  if (program.length === 0) throw new Error('A stage needs a program to run');
  const numbers = [
    tarBytes,
    ulimits.cpuSoftSeconds,
    ulimits.cpuHardSeconds,
    ulimits.fsizeBlocks,
    ulimits.nofile,
  ];
  for (const n of numbers) {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`Stage parameter is not a count: ${n}`);
  }
  return ['sh', '-c', STAGE_SCRIPT, 'sh', ...numbers.map(String), ...program];
}
