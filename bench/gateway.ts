// Gateway performance: what the gateway itself adds, without Docker. For each transport
// (uWebSockets.js, ws) a real gateway runs in its own process (`node dist/cli.js gateway`); a
// synthetic runner and client sockets in a load process measure relayed chunks per second and
// the added latency at 1, 100 and 1,000 sockets, and tiny jobs per second; then the gateway's RSS
// growth for 10,000 idle client sockets, beside bare uWebSockets.js and ws servers measured the same way.
// Run: `npm run bench:gateway`. Knobs (environment): see README, "Gateway relay performance".
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBareServer } from './bare-server.js';
import type { LoadAnswers, LoadCommand, LoadReply, LoadRequest } from './load-worker.js';
import { runLoadWorker } from './load-worker.js';
import { type Child, Children, freePort, openFileLimit, settledRss } from './processes.js';
import type { RelayPace, RelayResult } from './relay-load.js';
import type { TinyJobsResult } from './tiny-jobs.js';

type Transport = 'uws' | 'ws';
const TRANSPORTS: readonly Transport[] = ['uws', 'ws'];
const TRANSPORT_NAMES: Record<Transport, string> = { uws: 'uWebSockets.js', ws: 'ws' };
const LEVELS = [1, 100, 1000] as const;

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a whole number ≥ 1`);
  return value;
}

const config = {
  /** How long the runner sends in each throughput run, and in each latency run. */
  seconds: envNumber('BENCH_SECONDS', 2),
  chunkBytes: 100,
  /** Chunks sent and not yet received, per job and in all: bounded, so buffers (and latency) stay bounded. */
  jobWindow: envNumber('BENCH_JOB_WINDOW', 64),
  globalWindow: envNumber('BENCH_WINDOW', 2048),
  /** Rounds of every (level, transport) cell; the tables show medians. */
  rounds: envNumber('BENCH_ROUNDS', 3),
  /** The latency runs: chunks per second, all sockets together, for this many seconds. */
  latencyRate: envNumber('BENCH_LATENCY_RATE', 2_000),
  idleSockets: envNumber('BENCH_IDLE_SOCKETS', 10_000),
  tinyJobs: envNumber('BENCH_TINY_JOBS', 2_000),
  tinySockets: 50,
  tinyPerSocket: 16,
  timeoutMs: 120_000,
};

const here = fileURLToPath(new URL('.', import.meta.url));
/** The built CLI beside this built file (dist/bench/gateway.js → dist/cli.js). */
const CLI = join(here, '..', 'cli.js');
const ROOT = join(here, '..', '..');

/** The IPC side of the load process: one promise per command. */
class LoadWorker {
  readonly child: Child;
  #next = 1;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();

  constructor(child: Child) {
    this.child = child;
    child.process.on('message', (reply: LoadReply) => {
      const pending = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (reply.ok) pending?.resolve(reply.result);
      else pending?.reject(new Error(`load process: ${reply.error}`));
    });
    void child.exited.then((how) => {
      for (const pending of this.#pending.values()) {
        pending.reject(new Error(`the load process exited (${how})\n${child.stderrTail}`));
      }
      this.#pending.clear();
    });
  }

  request<C extends LoadCommand>(command: C): Promise<LoadAnswers[C['type']]> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.process.send({ id, command } satisfies LoadRequest);
    });
  }
}

interface IdleResult {
  before: number;
  after: number;
}

/** One level, one transport: the medians over the rounds. */
interface LevelResult {
  /** Throughput (window pace). */
  saturated: RelayResult;
  /** Latency at the fixed rate. */
  paced: RelayResult;
}

interface TransportResult {
  levels: LevelResult[];
  tiny: TinyJobsResult;
  idle: IdleResult;
}

/** The environment without any codeexec setting of ours, plus the given ones. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('CODEEXEC_') && key !== 'PORT' && key !== 'HOST') env[key] = value;
  }
  return { ...env, ...extra };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Each numeric field the median of the runs'. */
function medianOf(runs: RelayResult[]): RelayResult {
  const first = runs[0]!;
  const out = { ...first };
  for (const key of Object.keys(first) as (keyof RelayResult)[])
    out[key] = median(runs.map((run) => run[key]));
  return out;
}

interface RunningServer {
  child: Child;
  url: string;
}

class Bench {
  readonly children = new Children();
  readonly tempDirs: string[] = [];
  readonly token = randomBytes(18).toString('base64url');
  #runners = 0;
  #worker: LoadWorker | undefined;

  get worker(): LoadWorker {
    this.#worker ??= new LoadWorker(
      this.children.spawn(
        'load process',
        [fileURLToPath(import.meta.url), 'load-worker'],
        childEnv({}),
        true,
      ),
    );
    return this.#worker;
  }

  cleanup(): void {
    this.children.killAll();
    for (const dir of this.tempDirs) rmSync(dir, { recursive: true, force: true });
  }

  async startGateway(transport: Transport): Promise<RunningServer> {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'codeexec-bench-'));
    this.tempDirs.push(dataDir);
    const env = childEnv({
      PORT: String(port),
      HOST: '127.0.0.1',
      CODEEXEC_DATA_DIR: dataDir,
      CODEEXEC_RUNNER_TOKENS: this.token,
      CODEEXEC_TRANSPORT: transport,
    });
    const child = this.children.spawn(`gateway (${transport})`, [CLI, 'gateway'], env);
    const url = await child.waitForLine(
      (line) => {
        try {
          const entry = JSON.parse(line) as { message?: string; url?: string };
          return entry.message === 'gateway listening'
            ? (entry.url ?? `http://127.0.0.1:${port}`)
            : undefined;
        } catch {
          return undefined;
        }
      },
      15_000,
      '"gateway listening" log line',
    );
    return { child, url };
  }

  async startBare(kind: Transport): Promise<RunningServer> {
    const port = await freePort();
    const child = this.children.spawn(
      `bare ${kind} server`,
      [fileURLToPath(import.meta.url), 'bare-server', kind, String(port)],
      childEnv({}),
    );
    await child.waitForLine((line) => (line === `listening ${port}` ? true : undefined), 15_000, 'listening');
    return { child, url: `ws://127.0.0.1:${port}/` };
  }

  relay(gateway: RunningServer, sockets: number, seconds: number, pace: RelayPace): Promise<RelayResult> {
    return this.worker.request({
      type: 'relay',
      params: {
        gatewayUrl: gateway.url,
        token: this.token,
        runnerName: `bench-runner-${++this.#runners}`,
        sockets,
        durationMs: seconds * 1000,
        chunkBytes: config.chunkBytes,
        pace,
        gatewayPid: gateway.child.pid,
        timeoutMs: config.timeoutMs,
      },
    });
  }

  tiny(gateway: RunningServer): Promise<TinyJobsResult> {
    return this.worker.request({
      type: 'tiny',
      params: {
        gatewayUrl: gateway.url,
        token: this.token,
        runnerName: `bench-runner-${++this.#runners}`,
        sockets: config.tinySockets,
        perSocket: config.tinyPerSocket,
        jobs: config.tinyJobs,
        timeoutMs: config.timeoutMs,
      },
    });
  }

  /**
   * Both gateways run side by side; every level is measured on each in turn, round after round
   * (alternating which goes first), so a machine that gets busier affects both alike.
   */
  async relayPhase(): Promise<Record<Transport, { levels: LevelResult[]; tiny: TinyJobsResult }>> {
    const gateways = {} as Record<Transport, RunningServer>;
    for (const transport of TRANSPORTS) gateways[transport] = await this.startGateway(transport);
    const window: RelayPace = { kind: 'window', perJob: config.jobWindow, total: config.globalWindow };
    const rate: RelayPace = { kind: 'rate', perSecond: config.latencyRate };
    for (const transport of TRANSPORTS) {
      // Warm-up, not reported: the gateway's and the load's code paths get compiled.
      await this.relay(gateways[transport], 10, 1, window);
    }
    const runs = new Map<string, { saturated: RelayResult[]; paced: RelayResult[] }>();
    for (let round = 0; round < config.rounds; round++) {
      const order = round % 2 === 0 ? TRANSPORTS : [...TRANSPORTS].reverse();
      for (const sockets of LEVELS) {
        for (const transport of order) {
          const key = `${transport} ${sockets}`;
          const entry = runs.get(key) ?? { saturated: [], paced: [] };
          runs.set(key, entry);
          const saturated = await this.relay(gateways[transport], sockets, config.seconds, window);
          const paced = await this.relay(gateways[transport], sockets, config.seconds, rate);
          entry.saturated.push(saturated);
          entry.paced.push(paced);
          log(
            `round ${round + 1}/${config.rounds}, ${transport}, ${sockets} sockets: ` +
              `${int(saturated.msgsPerSec)} msgs/s, p99 ${paced.p99Ms.toFixed(2)} ms at ${int(config.latencyRate)}/s`,
          );
        }
      }
    }
    const out = {} as Record<Transport, { levels: LevelResult[]; tiny: TinyJobsResult }>;
    for (const transport of TRANSPORTS) {
      log(`${transport}: tiny jobs`);
      const tiny = await this.tiny(gateways[transport]);
      const levels = LEVELS.map((sockets) => {
        const entry = runs.get(`${transport} ${sockets}`)!;
        return { saturated: medianOf(entry.saturated), paced: medianOf(entry.paced) };
      });
      out[transport] = { levels, tiny };
    }
    for (const transport of TRANSPORTS) await gateways[transport].child.stop();
    return out;
  }

  /** RSS of `child` before and after `count` idle sockets to `url` (after a small warm-up). */
  async idle(child: Child, url: string, count: number): Promise<IdleResult> {
    const needed = count + 100;
    for (const [name, pid] of [
      [child.name, child.pid],
      ['load process', this.worker.child.pid],
    ] as const) {
      const limit = openFileLimit(pid);
      if (limit < needed) {
        throw new Error(`${name} may open ${limit} files, fewer than the ${needed} needed: raise ulimit -n`);
      }
    }
    // Open and close a few first, so code paths loaded on first use are in both readings.
    await this.worker.request({ type: 'idle-open', url, count: 100 });
    await this.worker.request({ type: 'idle-close' });
    const before = await settledRss(child.pid);
    await this.worker.request({ type: 'idle-open', url, count });
    const after = await settledRss(child.pid);
    await this.worker.request({ type: 'idle-close' });
    return { before, after };
  }

  /** A fresh gateway (nothing from the relay runs in its heap), or a bare server. */
  async idlePhase(kind: 'gateway' | 'bare', transport: Transport): Promise<IdleResult> {
    log(`${kind} ${transport}: ${int(config.idleSockets)} idle sockets`);
    if (kind === 'gateway') {
      const gateway = await this.startGateway(transport);
      const url = `${gateway.url.replace(/^http/, 'ws')}/execute/ws`;
      const idle = await this.idle(gateway.child, url, config.idleSockets);
      await gateway.child.stop();
      return idle;
    }
    const server = await this.startBare(transport);
    const idle = await this.idle(server.child, server.url, config.idleSockets);
    await server.child.stop();
    return idle;
  }
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

function packageVersion(name: string): string {
  try {
    const file = join(ROOT, 'node_modules', name, 'package.json');
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name: string; version: string };
    return pkg.name === name ? pkg.version : `${pkg.name}@${pkg.version}`;
  } catch {
    return 'unknown';
  }
}

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
const int = (value: number): string => Math.round(value).toLocaleString('en-US');

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padStart(widths[i]!)).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

function report(
  results: Record<Transport, TransportResult>,
  bare: Record<Transport, IdleResult>,
  load: { start: number; end: number },
): string {
  const out: string[] = [];
  out.push(
    `Gateway relay benchmark: node ${process.version}, ${cpus().length} CPUs, ` +
      `uWebSockets.js ${packageVersion('uWebSockets.js')}, ws ${packageVersion('ws')}; ` +
      `load average ${load.start.toFixed(1)} at the start, ${load.end.toFixed(1)} at the end`,
    `msgs/s: N sockets, one job each, chunks of ${config.chunkBytes} B for ${config.seconds} s, at most ` +
      `${config.jobWindow} per job and ${int(config.globalWindow)} in all in flight. p50/p99: runner send → ` +
      `client receive at ${int(config.latencyRate)} chunks/s. Medians of ${config.rounds} rounds.`,
    'CPU: 100% = one core. µs/msg: gateway CPU per relayed chunk. load: the runner + clients process.',
  );
  for (const transport of TRANSPORTS) {
    const { levels, tiny, idle } = results[transport];
    out.push('', `${transport} (${TRANSPORT_NAMES[transport]})`);
    out.push(
      table(
        ['sockets', 'msgs/s', 'p50 ms', 'p99 ms', 'dropped', 'gateway CPU', 'µs/msg', 'load CPU'],
        levels.map(({ saturated: s, paced: p }) => [
          int(s.sockets),
          int(s.msgsPerSec),
          p.p50Ms.toFixed(2),
          p.p99Ms.toFixed(2),
          int(s.dropped + p.dropped),
          `${s.gatewayCpuPct.toFixed(0)}%`,
          s.gatewayUsPerMsg.toFixed(1),
          `${s.loadCpuPct.toFixed(0)}%`,
        ]),
      ),
    );
    out.push(
      `tiny jobs (one chunk each; ${config.tinySockets} sockets × ${config.tinyPerSocket} at once): ` +
        `${int(tiny.jobsPerSec)} jobs/s`,
      `${int(config.idleSockets)} idle client sockets: RSS ${mb(idle.before)} → ${mb(idle.after)} MB ` +
        `(+${mb(idle.after - idle.before)} MB)`,
    );
  }
  out.push('', 'uWebSockets.js ÷ ws (target ≥ 2 in msgs/s):');
  LEVELS.forEach((sockets, i) => {
    const uws = results.uws.levels[i]!.saturated;
    const ws = results.ws.levels[i]!.saturated;
    const ratio = uws.msgsPerSec / ws.msgsPerSec;
    out.push(
      `  ${int(sockets).padStart(5)} sockets: msgs/s ${ratio.toFixed(2)}× (${ratio >= 2 ? 'met' : 'NOT met'}); ` +
        `gateway CPU per msg ${(ws.gatewayUsPerMsg / uws.gatewayUsPerMsg).toFixed(2)}× less`,
    );
  });
  const growth = (idle: IdleResult) => idle.after - idle.before;
  const uwsGrowth = growth(results.uws.idle);
  out.push(
    '',
    `RSS growth for ${int(config.idleSockets)} idle client sockets:`,
    `  gateway, uWebSockets.js: +${mb(uwsGrowth)} MB (target ≤ 25 MB: ${uwsGrowth <= 25 * 1024 * 1024 ? 'met' : 'NOT met'})`,
    `  gateway, ws:             +${mb(growth(results.ws.idle))} MB`,
    `  bare uWebSockets.js:     +${mb(growth(bare.uws))} MB`,
    `  bare ws:                 +${mb(growth(bare.ws))} MB`,
  );
  return out.join('\n');
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npm run build)`);
  const bench = new Bench();
  // Every child dies with us: at the end, on failure, and on Ctrl-C.
  process.on('exit', () => bench.cleanup());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
  const loadStart = loadavg()[0]!;
  if (loadStart > cpus().length / 2) {
    log(`the machine is busy (load average ${loadStart.toFixed(1)}): expect noisy figures`);
  }
  const relay = await bench.relayPhase();
  const results = {} as Record<Transport, TransportResult>;
  for (const transport of TRANSPORTS) {
    results[transport] = { ...relay[transport], idle: await bench.idlePhase('gateway', transport) };
  }
  const bare = {} as Record<Transport, IdleResult>;
  for (const kind of TRANSPORTS) bare[kind] = await bench.idlePhase('bare', kind);
  await bench.worker.child.stop();
  process.stdout.write(`\n${report(results, bare, { start: loadStart, end: loadavg()[0]! })}\n`);
}

const role = process.argv[2];
if (role === 'load-worker') runLoadWorker();
else if (role === 'bare-server') await runBareServer(process.argv[3] ?? '', Number(process.argv[4]));
else {
  await main().catch((err: unknown) => {
    process.stderr.write(`[bench] failed: ${String((err as Error).stack ?? err)}\n`);
    process.exit(1);
  });
}
