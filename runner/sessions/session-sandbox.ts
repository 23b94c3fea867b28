// What a session does inside its container, as the sandbox user: find the process that keeps the
// container up, stop every other process (instead of killing the container, which would lose the
// files), and read the memory cgroup's OOM-kill counter. Constant scripts; the numbers they take
// are parameters or lines on the agent's stdin. Parsing happens here, host-side, on plain text.

/**
 * The stop agent (stop-agent.ts): perl with no modules, started with the session as a docker exec
 * whose stdin the runner keeps. It first prints the probe: /proc/<pid>/stat of every process, `---`,
 * the memory cgroup's `oom_kill N` (cgroup v2's memory.events or v1's memory.oom_control), then a
 * NUL. Then it answers one line per request line:
 * - `stop K`: `kill(-1, SIGSTOP)` stops every other process at once (the kernel skips the caller and
 *   pid 1; a stopped process forks no more, so a fork bomb cannot outrun it), then SIGKILL to each
 *   process but pid 1, itself and the keep-alive K, pass after pass (5 ms apart, at most 200) until
 *   none is left that is not a zombie, then SIGCONT to K. Answers `stopped` (K alive) or `gone`.
 * - `oom`: answers `oom N` (`oom -` when no counter is readable).
 * It forks nothing and opens no new exec: it works while a fork bomb holds every pid, which keeps a
 * new `docker exec` from even starting. It runs as the sandbox user, so a program can kill it (as it
 * can kill the keep-alive): the session then stops its processes with STOP_SCRIPT's exec instead.
 */
const AGENT_SCRIPT = String.raw`$| = 1;
sub pids { opendir(my $d, '/proc') or return (); my @p = grep { /^\d+$/ } readdir($d); closedir($d); @p }
sub stat_of { open(my $f, '<', "/proc/$_[0]/stat") or return ''; my $l = <$f>; defined $l ? $l : '' }
sub oom {
  for my $file ('/sys/fs/cgroup/memory.events', '/sys/fs/cgroup/memory/memory.oom_control') {
    open(my $f, '<', $file) or next;
    while (<$f>) { return $1 if /^oom_kill (\d+)$/ }
  }
  '-';
}
sub running { my ($k) = @_; grep { $_ != 1 && $_ != $$ && $_ != $k && stat_of($_) =~ /\) [^ZX] / } pids() }
print stat_of($_) for pids();
my $oom = oom();
print "---\n", ($oom eq '-' ? '' : "oom_kill $oom\n"), "\0";
while (my $line = <STDIN>) {
  if ($line =~ /^stop (\d+)$/) {
    my $k = $1;
    kill 'STOP', -1;
    for (my ($left, $pass) = (1, 0); $left && $pass < 200; $pass++) {
      my @left = running($k);
      $left = @left;
      if ($left) { kill 'KILL', @left; select(undef, undef, undef, 0.005) }
    }
    kill 'CONT', $k;
    print kill(0, $k) ? "stopped\n" : "gone\n";
  } elsif ($line =~ /^oom$/) {
    print 'oom ', oom(), "\n";
  } else {
    print "unknown\n";
  }
}
`;

/**
 * `kill -9 -1` alone would also end the keep-alive process (`sleep infinity`, the init's child: the
 * sandbox user's too), and the container stops with it (verified). So: stop everything at once
 * (`kill -STOP -1` spares only the caller and pid 1; a stopped process forks no more, so a fork
 * bomb cannot outrun the loop), SIGKILL each process except pid 1, this shell
 * and the keep-alive ($1), then let the keep-alive go on. Builtins only: it forks nothing, so it
 * works while a fork bomb holds every free pid once its exec has started. Exits non-zero when the
 * keep-alive is gone (the container is ending anyway).
 */
const STOP_SCRIPT = [
  'k=$1',
  'kill -STOP -1 2>/dev/null',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: sh's parameter expansion, not a template
  'for d in /proc/[0-9]*; do p=${d#/proc/}',
  '  case $p in 1 | "$$" | "$k") ;; *) kill -KILL "$p" 2>/dev/null ;; esac',
  'done',
  'kill -CONT "$k"',
].join('\n');

export interface SessionProbe {
  /** The pid (in the container) of the process that keeps it running: the init's only child. */
  keepAlivePid: number;
  /** The memory cgroup's OOM kills so far; null when the counter cannot be read. */
  oomKills: number | null;
}

/** argv of the stop agent (see AGENT_SCRIPT). */
export function agentArgv(): string[] {
  return ['perl', '-e', AGENT_SCRIPT];
}

/** A request line for the agent: stop every process but the keep-alive. */
export function agentStopLine(keepAlivePid: number): string {
  checkKeepAlive(keepAlivePid);
  return `stop ${keepAlivePid}\n`;
}

/** The agent's answer to `oom`, as the counter; null when it could not read one. */
export function parseAgentOom(line: string): number | null {
  const match = /^oom (\d+)$/.exec(line);
  return match?.[1] === undefined ? null : Number(match[1]);
}

function checkKeepAlive(pid: number): void {
  if (!Number.isSafeInteger(pid) || pid <= 1) throw new Error(`Not a keep-alive pid: ${pid}`);
}

/** argv that ends every process of the sandbox but its keep-alive (see STOP_SCRIPT). */
export function stopArgv(keepAlivePid: number): string[] {
  checkKeepAlive(keepAlivePid);
  return ['sh', '-c', STOP_SCRIPT, 'sh', String(keepAlivePid)];
}

/** argv that prints the memory cgroup's counters (v2, then v1; one of them is missing). */
export function oomCounterArgv(): string[] {
  return ['cat', '/sys/fs/cgroup/memory.events', '/sys/fs/cgroup/memory/memory.oom_control'];
}

/** The `oom_kill N` counter in what oomCounterArgv (or the probe) printed; null if absent. */
export function parseOomKills(text: string): number | null {
  const match = /^oom_kill (\d+)$/m.exec(text);
  return match?.[1] === undefined ? null : Number(match[1]);
}

/**
 * Reads the probe the agent printed. Run before any of the session's code, so every process is the
 * pool's: the keep-alive must be the one process whose parent is pid 1 (execs have parent 0).
 */
export function parseProbe(text: string): SessionProbe {
  const [stats = '', cgroup = ''] = text.split(/^---$/m);
  const children: number[] = [];
  for (const line of stats.split('\n')) {
    // pid (comm) state ppid …: comm may hold spaces and parentheses, so the last ") " ends it.
    const match = /^(\d+) \(.*\) \S+ (\d+) /.exec(line);
    if (match?.[2] === '1') children.push(Number(match[1]));
  }
  const [keepAlivePid] = children;
  if (children.length !== 1 || keepAlivePid === undefined) {
    throw new Error(`expected one child of the sandbox's init, found ${children.length}`);
  }
  return { keepAlivePid, oomKills: parseOomKills(cgroup) };
}
