// What a session does inside its container, as the sandbox user: find the process that keeps the
// container up, stop every other process (instead of killing the container, which would lose the
// files), and read the memory cgroup's OOM-kill counter. Constant scripts; the one number they
// take is a positional parameter. Parsing happens here, host-side, on plain text.

/**
 * Prints /proc/<pid>/stat of every process, then the memory cgroup's events (cgroup v2's
 * memory.events, or v1's memory.oom_control: both have an `oom_kill N` line). Only builtins read
 * the stat files (`read`), so a process that vanishes meanwhile costs nothing.
 */
const PROBE_SCRIPT = [
  'for f in /proc/[0-9]*/stat; do read -r l <"$f" && printf "%s\\n" "$l"; done 2>/dev/null',
  'echo ---',
  'cat /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null',
  'exit 0',
].join('\n');

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

export function probeArgv(): string[] {
  return ['sh', '-c', PROBE_SCRIPT];
}

/** argv that ends every process of the sandbox but its keep-alive (see STOP_SCRIPT). */
export function stopArgv(keepAlivePid: number): string[] {
  if (!Number.isSafeInteger(keepAlivePid) || keepAlivePid <= 1) {
    throw new Error(`Not a keep-alive pid: ${keepAlivePid}`);
  }
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
 * Reads what probeArgv printed. Run before any of the session's code, so every process is the
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
