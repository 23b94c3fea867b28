// The argv of one stage's exec: a constant sh script that unpacks the job's files from the head of
// stdin and lowers the rlimits to the job's values, then a constant perl waiter that runs the
// program, says how it ended (exit code or signal, CPU time) and (run stage) sends the files it left
// in /workspace/out after its output. Everything variable is a positional parameter: the user's
// code and args are never part of a shell string.
import { randomBytes } from 'node:crypto';
import type { Limits } from '../../shared/limits.js';

/**
 * $1 bytes of tar at the head of stdin (0: none), $2/$3 soft/hard CPU seconds, $4 file size in
 * 512-byte blocks (dash's unit), $5 open files; $6 the waiter (WAITER_SCRIPT) and its arguments.
 * GNU `head -c N` reads no more than N bytes from a pipe, so the rest of stdin (the job's stdin)
 * reaches the program untouched. Soft CPU < hard CPU so the program gets SIGXCPU (a recognisable
 * signal), not the SIGKILL it gets when both are equal. Soft is lowered before hard: the kernel
 * refuses soft > hard. 125 means the sandbox could not be prepared (the program never ran). Then sh
 * execs perl (Debian's perl-base is Essential: in every image) with the waiter: no extra process.
 */
export const STAGE_SCRIPT = [
  'n=$1 cs=$2 ch=$3 fs=$4 nf=$5 w=$6',
  'shift 6',
  'if [ "$n" -gt 0 ]; then head -c "$n" | tar -x -f - || { echo "codeexec: could not unpack the files" >&2; exit 125; }; fi',
  'ulimit -S -t "$cs" && ulimit -H -t "$ch" && ulimit -f "$fs" && ulimit -n "$nf" || exit 125',
  'exec perl -e "$w" -- "$@"',
].join('\n');

/**
 * The waiter: perl, no modules (POSIX alone would double its ~2 ms start), stays the program's
 * parent. @ARGV: the marker, the bytes of tar of out/ to send at most (0: none), the pid file (''
 * : none), then the program's argv, exec'd as a list (never through a shell) with the rlimits sh
 * set and stdin/stdout/stderr untouched (perl writes nothing before the fork, so no buffer is
 * copied). The child first leads its own process group (setpgrp) and records its pid there, so a
 * signal exec (job-control.ts) reaches it and its children, never the waiter. It also raises its
 * oom_score_adj to 500 (anyone may raise their own): when the sandbox runs out of memory, the
 * kernel kills the program or its children before the waiter or a session's stop agent, which
 * are often bigger than each of a fork bomb's processes (the program may lower it back to 0, not
 * below: then they are on equal terms). The pid file is
 * emptied before the fork because a session's sandbox still holds the one its previous execution
 * wrote, and a signal must not reach that old pid.
 *
 * Once waitpid returns it writes, in one write, the marker then the end record
 * `x CODE CPU_MS F` (exited) or `s SIGNAL CPU_MS F` (killed), F `f` when a tar of out/ follows
 * (only if ./out exists: its cwd is the exec's, /workspace, which the program cannot change, and
 * the mount point cannot be renamed), `-` when nothing does. CPU_MS is `times`'s children's user +
 * sys: the program and every child it waited for. Then it exits with the program's status (128+n
 * for a signal death, as docker reports one), or execs sh for `tar | head`, which exits with it.
 * The tar runs as the sandbox user, inside the sandbox, without -h: a symlink is archived as a
 * link (the runner skips it), never followed, and `out` itself being a link archives just that
 * link. No extra exec: docker exec is ~70 ms here; see README "Files".
 */
export const WAITER_SCRIPT = String.raw`my ($mark, $cap, $pidf, @argv) = @ARGV;
if ($pidf ne '') { open(my $f, '>', $pidf) and close($f) }
my $pid = fork;
if (!defined $pid) { print STDERR "codeexec: could not start the program: $!\n"; exit 125 }
if ($pid == 0) {
  setpgrp(0, 0);
  if (open(my $o, '>', '/proc/self/oom_score_adj')) { print $o "500\n"; close($o) }
  if ($pidf ne '' && open(my $f, '>', $pidf)) { print $f "$$\n"; close($f) }
  exec { $argv[0] } @argv;
  print STDERR "codeexec: cannot run $argv[0]: $!\n";
  exit($! == 2 ? 127 : 126);
}
waitpid($pid, 0);
my $st = $?;
my (undef, undef, $cu, $cs) = times;
my $sig = $st & 127;
my $code = $sig ? 128 + $sig : $st >> 8;
my $files = $cap > 0 && -d 'out';
$| = 1;
printf "%s%s %d %d %s\n", $mark, $sig ? 's' : 'x', $sig || $code, ($cu + $cs) * 1000 + 0.5, $files ? 'f' : '-';
exit $code unless $files;
exec 'sh', '-c', 'tar -c -f - --format=gnu --sort=name out 2>/dev/null | head -c "$1"; exit "$2"', 'sh', $cap, $code;
exit $code;
`;

/** Where the run stage records the program's pid (= its process group), for signals. */
export const PROGRAM_PID_FILE = '/tmp/.codeexec-program.pid';

/**
 * What the stage script appends to the program's stdout once the program ended: this marker, the
 * end record, then (run stage, when out/ exists) at most archiveBytes of tar (0: never).
 */
export interface StageTrailer {
  marker: string;
  archiveBytes: number;
}

// An ASCII record separator first: text output almost never ends with it, so almost nothing is held
// back from live streaming while it might be the marker's start (stdout-trailer.ts).
const MARKER = /^\u001e[A-Za-z0-9:_-]{16,128}$/;

/** A fresh marker for one job; random, so no program prints it by accident. */
export function newStageTrailer(archiveBytes: number): StageTrailer {
  return { marker: `\u001ecodeexec-end:${randomBytes(16).toString('hex')}`, archiveBytes };
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

/**
 * argv for `docker exec`: sh -c STAGE_SCRIPT with the numbers, the waiter, and the program as
 * parameters. recordPid: the program's pid goes to PROGRAM_PID_FILE for signals (run stage).
 */
export function stageArgv(
  tarBytes: number,
  ulimits: StageUlimits,
  program: readonly string[],
  trailer: StageTrailer,
  recordPid = false,
): string[] {
  if (program.length === 0) throw new Error('A stage needs a program to run');
  const numbers = [
    tarBytes,
    ulimits.cpuSoftSeconds,
    ulimits.cpuHardSeconds,
    ulimits.fsizeBlocks,
    ulimits.nofile,
    trailer.archiveBytes,
  ];
  for (const n of numbers) {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`Stage parameter is not a count: ${n}`);
  }
  if (!MARKER.test(trailer.marker)) throw new Error('The stage trailer marker is malformed');
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
    WAITER_SCRIPT,
    trailer.marker,
    cap,
    recordPid ? PROGRAM_PID_FILE : '',
    ...program,
  ];
}
