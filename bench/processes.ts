// Child processes for the gateway benchmark: spawned with a raised open-file limit, tracked so
// every one is killed by its pid at the end, on failure and on Ctrl-C, and read through /proc.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

/** Open files each child needs: 10,000 sockets and some headroom. */
export const NOFILE = 65_536;

/** Runs `node args…` through bash so the child starts with a raised soft limit of open files. */
function nodeWithLimit(args: string[], env: NodeJS.ProcessEnv, ipc: boolean): ChildProcess {
  // Raise the soft limit to NOFILE, or as far as the hard limit allows when that is lower
  // (not root); `exec` keeps the pid, so the pid we track is node's own.
  const script = `ulimit -n ${NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`;
  return spawn('bash', ['-c', script, process.execPath, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? (['ipc'] as const) : [])],
  });
}

/** A spawned child whose stdout lines can be awaited and whose last stderr lines are kept. */
export class Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<number | string>;
  readonly #stderr: string[] = [];
  readonly #lineWaiters = new Set<(line: string) => boolean>();

  constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.process = child;
    if (child.pid === undefined) throw new Error(`${name}: could not spawn`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? signal ?? '')),
    );
    // Always read both pipes: a child blocks on a full pipe (stdout to a pipe is synchronous on Linux).
    createInterface({ input: child.stdout! }).on('line', (line) => {
      for (const waiter of this.#lineWaiters) if (waiter(line)) this.#lineWaiters.delete(waiter);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.#stderr.push(line);
      if (this.#stderr.length > 20) this.#stderr.shift();
    });
  }

  get alive(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** The last lines it wrote to stderr, for error messages. */
  get stderrTail(): string {
    return this.#stderr.join('\n');
  }

  /** Resolves with the first stdout line that `match` accepts; rejects if the child exits first. */
  waitForLine<T>(match: (line: string) => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => fail(`no ${what} within ${timeoutMs} ms`), timeoutMs);
      const fail = (why: string) => {
        this.#lineWaiters.delete(waiter);
        clearTimeout(timer);
        reject(new Error(`${this.name}: ${why}\n${this.stderrTail}`));
      };
      const waiter = (line: string): boolean => {
        const value = match(line);
        if (value === undefined) return false;
        clearTimeout(timer);
        resolve(value);
        return true;
      };
      this.#lineWaiters.add(waiter);
      void this.exited.then((how) => fail(`exited (${how}) before ${what}`));
    });
  }

  /** Asks it to stop (SIGTERM) and waits; SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.alive) return;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.alive) process.kill(this.pid, 'SIGKILL');
  }
}

/** Every child the benchmark started; `killAll` ends each by its pid. */
export class Children {
  readonly #children = new Set<Child>();

  spawn(name: string, args: string[], env: NodeJS.ProcessEnv, ipc = false): Child {
    const child = new Child(name, nodeWithLimit(args, env, ipc));
    this.#children.add(child);
    void child.exited.then(() => this.#children.delete(child));
    return child;
  }

  /** Synchronous, so it also works from a process 'exit' handler. */
  killAll(): void {
    for (const child of this.#children) {
      try {
        child.kill();
      } catch {
        // already gone
      }
    }
  }
}

/** A port that was free a moment ago: listen on 0, read it, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resident memory of a process, bytes (VmRSS in /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** The soft limit of open files of a process (/proc/<pid>/limits). */
export function openFileLimit(pid: number): number {
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  if (!match) throw new Error(`no open-file limit for pid ${pid}`);
  return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
}

let ticksPerSecond: number | undefined;

/** CPU time a process has used (user + system), milliseconds, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is the 3rd, utime the 14th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

/**
 * Waits until the RSS of `pid` stops moving: samples every 250 ms until four samples in a row lie
 * within 0.5 MB, at most `maxMs`. There is no event for "memory settled"; this is the rule.
 */
export async function settledRss(pid: number, maxMs = 10_000): Promise<number> {
  const samples: number[] = [];
  const deadline = Date.now() + maxMs;
  for (;;) {
    samples.push(rssBytes(pid));
    const last = samples.slice(-4);
    if (last.length === 4 && Math.max(...last) - Math.min(...last) <= 512 * 1024) return last[3]!;
    if (Date.now() > deadline) return samples.at(-1)!;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
