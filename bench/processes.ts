// Child processes for the gateway benchmarks (bench/gateway.ts, bench/gateways.ts): spawned with a
// raised open-file limit, tracked so every one is killed by its pid at the end, on failure and on
// Ctrl-C, and read through /proc; and how a gateway among them is started.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../test/free-port.js';

export { freePort };

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

  /** Calls `listener` with every stdout line from now on. */
  onLine(listener: (line: string) => void): void {
    this.#lineWaiters.add((line) => {
      listener(line);
      return false;
    });
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

/** The environment without any codeexec setting of ours, plus the given ones. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('CODEEXEC_') && key !== 'PORT' && key !== 'HOST') env[key] = value;
  }
  return { ...env, ...extra };
}

/** `work`, or a rejection as soon as one of `servers` exits before it settles. */
export function unlessExits<T>(servers: readonly Child[], work: Promise<T>, what: string): Promise<T> {
  const died = servers.map((server) =>
    server.exited.then((how): never => {
      throw new Error(`${server.name} exited (${how}) during ${what}\n${server.stderrTail}`);
    }),
  );
  return Promise.race([work, ...died]);
}

export interface RunningGateway {
  child: Child;
  /** http://127.0.0.1:port */
  url: string;
}

/**
 * Starts `node <cli> gateway` on a free loopback port with a temporary data directory of its own
 * (added to `tempDirs`, which the caller removes) and `env` (runner tokens, transport, store…);
 * resolves once it answers GET /execute/health. No rate limits: a benchmark's clients all come
 * from one address, far faster than the default (600 submissions a minute) allows.
 */
export async function startGatewayProcess(
  children: Children,
  cli: string,
  name: string,
  env: Record<string, string>,
  tempDirs: string[],
): Promise<RunningGateway> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'codeexec-bench-'));
  tempDirs.push(dataDir);
  const child = children.spawn(
    name,
    [cli, 'gateway'],
    childEnv({
      PORT: String(port),
      HOST: '127.0.0.1',
      CODEEXEC_DATA_DIR: dataDir,
      CODEEXEC_RATE_LIMIT: '0',
      CODEEXEC_MAX_JOBS_PER_KEY: '0',
      ...env,
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await unlessExits(
      [child],
      fetch(`${url}/execute/health`).then(
        (response) => response.ok,
        () => false,
      ),
      'its start',
    );
    if (ok) return { child, url };
    if (Date.now() > deadline)
      throw new Error(`${name}: no answer on ${url} within 30 s\n${child.stderrTail}`);
    // A process starting up has no event to wait on from here: ask again shortly.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
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

function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  return ticksPerSecond;
}

/** CPU time a process has used (user + system), milliseconds, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is the 3rd, utime the 14th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
}

/** CPU time every process on the machine has used, all cores together, ms (/proc/stat: all but idle and iowait). */
export function machineBusyMs(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user and nice)
  const busy = fields.slice(0, 8).reduce((sum, value, i) => (i === 3 || i === 4 ? sum : sum + value), 0);
  return (busy * 1000) / clockTicks();
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

/** The pids of `pid`'s children and their children, from /proc (a snapshot). */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = parents.get(ppid) ?? [];
      list.push(Number(entry));
      parents.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const visit = (parent: number) => {
    for (const child of parents.get(parent) ?? []) {
      out.push(child);
      visit(child);
    }
  };
  visit(pid);
  return out;
}

/** CPU time of each process, ms; 0 for one that is gone. */
export function cpuMsOf(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      out.set(pid, cpuMs(pid));
    } catch {
      out.set(pid, 0);
    }
  }
  return out;
}
