// Real gateway and runner processes (`node dist/cli.js …`) for the fault tests: configured by
// environment, their JSON log lines parsed and awaitable, killed with real signals, and cleaned
// up — every process spawned and every container its runners made — even when a test fails.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type CallbackSink, containersOf, type Delivery, freePort, teardown } from './helpers.js';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;

/** A JSON log line (shared/log.ts); a line that is not JSON becomes `{ msg: <the text> }`. */
export interface LogLine {
  msg: string;
  level?: string;
  job_id?: string;
  runner_id?: string;
  client?: string;
  [field: string]: unknown;
}

/** One spawned process and its log. */
export class Child {
  readonly lines: LogLine[] = [];
  /** Lines that were not JSON (the log is JSON lines: only a crash's last words should be). */
  readonly unparsed: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #process: ChildProcess;
  readonly #events = new EventEmitter();
  #alive = true;

  constructor(
    readonly label: string,
    args: string[],
    env: Record<string, string>,
  ) {
    // The tests' own CODEEXEC_* variables must not leak into the children's configuration.
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('CODEEXEC_')),
    );
    this.#process = spawn(process.execPath, [CLI, ...args], {
      env: { ...inherited, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.#process.stdout!, this.#process.stderr!]) {
      createInterface({ input: stream }).on('line', (text) => this.#onLine(text));
    }
    this.exited = new Promise((resolve) => {
      this.#process.once('exit', (code, signal) => {
        this.#alive = false;
        this.#events.emit('exit');
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.#process.pid ?? -1;
  }

  get alive(): boolean {
    return this.#alive;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.#alive) process.kill(this.pid, signal);
  }

  /** Log lines matching, so far. */
  matching(match: (line: LogLine) => boolean): LogLine[] {
    return this.lines.filter(match);
  }

  /**
   * Resolves with the first line from index `from` on that matches; rejects if the process exits
   * first or nothing matches in time (with the last lines, so a failure explains itself).
   */
  waitFor(match: (line: LogLine) => boolean, { from = 0, timeoutMs = 60_000 } = {}): Promise<LogLine> {
    const found = this.lines.slice(from).find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const stop = () => {
        clearTimeout(timer);
        this.#events.off('line', onLine);
        this.#events.off('exit', onExit);
      };
      const onLine = (line: LogLine) => {
        if (!match(line)) return;
        stop();
        resolve(line);
      };
      const fail = (why: string) => {
        stop();
        const tail = this.lines.slice(-8).map((line) => JSON.stringify(line));
        reject(new Error(`${this.label}: ${why}. Last lines:\n${tail.join('\n')}`));
      };
      const onExit = () => fail('exited before the expected log line');
      const timer = setTimeout(() => fail(`no expected log line within ${timeoutMs} ms`), timeoutMs);
      this.#events.on('line', onLine);
      this.#events.on('exit', onExit);
    });
  }

  #onLine(text: string): void {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { msg: text };
      this.unparsed.push(text);
    }
    this.lines.push(line);
    this.#events.emit('line', line);
  }
}

export interface GatewayProcess {
  child: Child;
  url: string;
  port: number;
}

/** A gateway's data directory, its runner token, and every process started for one test file. */
export class Cluster {
  readonly token = randomBytes(12).toString('hex');
  readonly #dataDir: string;
  readonly #children = new Set<Child>();
  readonly #runnerNames = new Set<string>();

  private constructor(dataDir: string) {
    this.#dataDir = dataDir;
  }

  /** A new cluster whose cleanup runs when the test (or file) ends, whatever happened in it. */
  static async create(): Promise<Cluster> {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build it with \`npx tsup\` (npm test does)`);
    const cluster = new Cluster(await mkdtemp(join(tmpdir(), 'codeexec-faults-')));
    teardown(() => cluster.cleanup());
    return cluster;
  }

  /**
   * Starts a gateway on `port` (0: a free one) over this cluster's data directory; resolves once
   * it listens. Always an explicit port: uSockets sets SO_REUSEADDR only then, and without it the
   * TIME_WAIT connections of a killed gateway keep a restart off its port for a minute.
   */
  async gateway(env: Record<string, string> = {}, port = 0): Promise<GatewayProcess> {
    const child = this.#spawn('gateway', 'gateway', {
      HOST: '127.0.0.1',
      PORT: String(port || (await freePort())),
      CODEEXEC_DATA_DIR: this.#dataDir,
      CODEEXEC_RUNNER_TOKENS: this.token,
      // Short, so faults resolve in seconds; not so short that a busy 2-core machine trips them.
      CODEEXEC_HEARTBEAT_MS: '500',
      CODEEXEC_LEASE_MS: '2000',
      // The callback sinks listen on loopback, which a gateway calls back only when allowed to.
      CODEEXEC_CALLBACK_ALLOW: '127.0.0.1/32',
      ...env,
    });
    const listening = await child.waitFor((line) => line.msg === 'gateway listening');
    const url = String(listening.url);
    return { child, url, port: Number(new URL(url).port) };
  }

  /** Starts a runner (python only); resolves once the gateway has welcomed it. */
  async runner(name: string, gatewayUrl: string, env: Record<string, string> = {}): Promise<Child> {
    this.#runnerNames.add(name);
    const child = this.#spawn(`runner ${name}`, 'runner', {
      CODEEXEC_GATEWAY_URL: gatewayUrl,
      CODEEXEC_RUNNER_TOKEN: this.token,
      CODEEXEC_RUNNER_NAME: name,
      // Its identity and lock live with the cluster (a restart under the same name finds them).
      CODEEXEC_RUNNER_DATA_DIR: join(this.#dataDir, 'runners', name),
      CODEEXEC_RUNNER_LANGUAGES: 'python',
      CODEEXEC_RUNNER_SLOTS: '2',
      CODEEXEC_POOL_MIN: '2',
      CODEEXEC_POOL_MAX: '2',
      CODEEXEC_RECONNECT_MIN_MS: '50',
      CODEEXEC_RECONNECT_MAX_MS: '400',
      ...env,
    });
    await child.waitFor((line) => line.msg === 'connected to the gateway');
    return child;
  }

  /** Kills with SIGKILL and waits until the process is gone. */
  async kill(child: Child): Promise<void> {
    child.kill('SIGKILL');
    await child.exited;
  }

  async cleanup(): Promise<void> {
    await Promise.all([...this.#children].map((child) => this.kill(child)));
    for (const name of this.#runnerNames) {
      const ids = containersOf(name);
      // A killed runner's engine requests may still be removing some: "gone" is fine, so each
      // removal stands alone and its failure is ignored.
      for (const id of ids) spawnSync('docker', ['rm', '-f', id], { stdio: 'ignore' });
    }
    await rm(this.#dataDir, { recursive: true, force: true });
  }

  #spawn(label: string, command: string, env: Record<string, string>): Child {
    const child = new Child(label, [command], env);
    this.#children.add(child);
    return child;
  }
}

export function uniqueRunnerName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** A REST call to a gateway, JSON in and out. */
export async function rest(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON came back
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** Lines a runner logged for each job it finished (`job finished`), by job id. */
export function finishedJobs(...runners: Child[]): string[] {
  return runners.flatMap((runner) =>
    runner.matching((line) => line.msg === 'job finished').map((line) => String(line.job_id)),
  );
}

/** Queues a python job whose end is POSTed to `sink`; returns its id. */
export async function submit(
  base: string,
  sink: CallbackSink,
  body: Record<string, unknown>,
): Promise<string> {
  const res = await rest(base, 'POST', '/execute/async', { lang: 'python', callback_url: sink.url, ...body });
  if (res.status !== 202) throw new Error(`POST /execute/async: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

/** The callback of job `id` (the first, if it came more than once). */
export async function endOf(sink: CallbackSink, id: string): Promise<Delivery> {
  const received = await sink.until((all) => all.some((d) => d.body.id === id));
  return received.find((d) => d.body.id === id)!;
}

/** Python that prints "start", sleeps, then prints `text`. */
export const sleepy = (seconds: number, text: string) =>
  `import time\nprint("start", flush=True)\ntime.sleep(${seconds})\nprint(${JSON.stringify(text)})`;
