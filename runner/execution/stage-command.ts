// The argv of one stage's exec: a constant sh script that unpacks the job's files from the head of
// stdin, lowers the rlimits to the job's values, runs the program, and (run stage) sends the files
// it left in /workspace/out after its output. Everything variable is a positional parameter: the
// user's code and args are never part of a shell string.
import { randomBytes } from 'node:crypto';
import type { Limits } from '../../shared/limits.js';

/**
 * $1 bytes of tar at the head of stdin (0: none), $2/$3 soft/hard CPU seconds, $4 file size in
 * 512-byte blocks (dash's unit), $5 open files, $6 the output-files marker ('' : no collection),
 * $7 bytes of the output-files tar to send at most; then the program's argv.
 * GNU `head -c N` reads no more than N bytes from a pipe, so the rest of stdin (the job's stdin)
 * reaches the program untouched. Soft CPU < hard CPU so the program gets SIGXCPU (a recognisable
 * 152), not the SIGKILL it gets when both are equal. Soft is lowered before hard: the kernel
 * refuses soft > hard. 125 means the sandbox could not be prepared (the program never ran).
 *
 * With a marker, sh stays the program's parent instead of exec'ing it: once the program ends, and
 * only if ./out exists (sh's cwd is the exec's, /workspace: the program cannot change it, and the
 * mount point cannot be renamed), it writes the marker then a tar of `out` to stdout, and exits with
 * the program's status (a signal death is 128+n either way). The tar runs as the sandbox user,
 * inside the sandbox, without -h: a symlink is archived as a link (the runner skips it), never
 * followed, and `out` itself being a link archives just that link. No extra exec: a job that
 * writes no `out` costs nothing (docker exec is ~70 ms here; see README "Files").
 *
 * The run stage's program is started through `setsid sh -c 'echo $$ >PID_FILE; exec …'`: it leads
 * its own process group (sh runs it in the foreground: a background job would get SIGINT/SIGQUIT
 * ignored and stdin from /dev/null without job control), and its pid is recorded so a signal exec
 * (job-control.ts) reaches it and its children, never this sh (verified on dash, python, bash).
 * The file is emptied first (a builtin: no fork) because a session's sandbox still holds the one
 * its previous execution wrote, and a signal must not reach that old pid.
 */
/** Where the run stage records the program's pid (= its process group), for signals. */
export const PROGRAM_PID_FILE = '/tmp/.codeexec-program.pid';

export const STAGE_SCRIPT = [
  'n=$1 cs=$2 ch=$3 fs=$4 nf=$5 mark=$6 cap=$7',
  'shift 7',
  'if [ "$n" -gt 0 ]; then head -c "$n" | tar -x -f - || { echo "codeexec: could not unpack the files" >&2; exit 125; }; fi',
  'ulimit -S -t "$cs" && ulimit -H -t "$ch" && ulimit -f "$fs" && ulimit -n "$nf" || exit 125',
  '[ -n "$mark" ] || exec "$@"',
  `true 2>/dev/null >${PROGRAM_PID_FILE}`,
  `setsid sh -c 'echo $$ >${PROGRAM_PID_FILE} 2>/dev/null; exec "$@"' sh "$@"`,
  's=$?',
  'if [ -d out ]; then printf %s "$mark" && tar -c -f - --format=gnu --sort=name out 2>/dev/null | head -c "$cap"; fi',
  'exit "$s"',
].join('\n');

/** How the run stage sends back /workspace/out: after this marker on stdout, at most this many bytes of tar. */
export interface FileCollection {
  marker: string;
  archiveBytes: number;
}

// An ASCII record separator first: text output almost never ends with it, so almost nothing is held
// back from live streaming while it might be the marker's start (stdout-trailer.ts).
const MARKER = /^\u001e[A-Za-z0-9:_-]{16,128}$/;

/** A fresh marker for one job; random, so no program prints it by accident. */
export function newFileCollection(archiveBytes: number): FileCollection {
  return { marker: `\u001ecodeexec-files:${randomBytes(16).toString('hex')}`, archiveBytes };
}

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
export function stageArgv(
  tarBytes: number,
  ulimits: StageUlimits,
  program: readonly string[],
  collect: FileCollection | null = null,
): string[] {
  if (program.length === 0) throw new Error('A stage needs a program to run');
  const numbers = [
    tarBytes,
    ulimits.cpuSoftSeconds,
    ulimits.cpuHardSeconds,
    ulimits.fsizeBlocks,
    ulimits.nofile,
    collect?.archiveBytes ?? 0,
  ];
  for (const n of numbers) {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`Stage parameter is not a count: ${n}`);
  }
  if (collect !== null && !MARKER.test(collect.marker))
    throw new Error('The output-files marker is malformed');
  const [tar, cpuSoft, cpuHard, fsize, nofile, cap] = numbers.map(String) as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  return [
    'sh',
    '-c',
    STAGE_SCRIPT,
    'sh',
    tar,
    cpuSoft,
    cpuHard,
    fsize,
    nofile,
    collect?.marker ?? '',
    cap,
    ...program,
  ];
}
