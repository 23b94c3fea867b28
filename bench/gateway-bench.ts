// The gateway benchmark's machinery: its settings, the child processes (gateways, bare servers, the
// load process) and the phases that drive them. bench/gateway.ts runs it; gateway-report.ts prints it.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { type LoadAnswers, type LoadCommand, LoadWorker } from './load-worker.js';
import {
  type Child,
  Children,
  childEnv,
  freePort,
  openFileLimit,
  type RunningGateway,
  settledRss,
  startGatewayProcess,
  unlessExits,
} from './processes.js';
import type { RelayPace, RelayResult } from './relay-load.js';
import type { TinyJobsResult } from './tiny-jobs.js';

export type Transport = 'uws' | 'ws';
export const TRANSPORTS: readonly Transport[] = ['uws', 'ws'];
export const TRANSPORT_NAMES: Record<Transport, string> = { uws: 'uWebSockets.js', ws: 'ws' };
export const LEVELS = [1, 100, 1000] as const;

/** A whole number ≥ `min` from the environment, or `fallback` when unset. */
export function envNumber(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name} must be a whole number ≥ ${min}`);
  return value;
}

export const config = {
  /** How long the runner sends in each throughput run, and in each latency run. */
  seconds: envNumber('BENCH_SECONDS', 2),
  chunkBytes: 100,
  /** Chunks sent and not yet received, per job and in all: bounded, so buffers (and latency) stay bounded. */
  jobWindow: envNumber('BENCH_JOB_WINDOW', 64),
  /**
   * 64 × 1,000: only the per-job window binds, at every level, so each socket can take as much as
   * the gateway relays (a lower cap leaves a socket at 1,000 with ~2 chunks in flight: a round-trip
   * measure, not the relay's rate). 64 chunks of 100 B stay far below the 1 MiB high-water mark.
   */
  globalWindow: envNumber('BENCH_WINDOW', 65_536),
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

export interface IdleResult {
  before: number;
  after: number;
}

/** One level, one transport: the medians over the rounds. */
export interface LevelResult {
  /** Throughput (window pace). */
  saturated: RelayResult;
  /** Latency at the fixed rate. */
  paced: RelayResult;
}

export interface TransportResult {
  levels: LevelResult[];
  tiny: TinyJobsResult;
  idle: IdleResult;
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

/** A gateway or a bare server: its process and base URL. */
type RunningServer = RunningGateway;

export class Bench {
  readonly children = new Children();
  readonly tempDirs: string[] = [];
  readonly token = randomBytes(18).toString('base64url');
  /** The built benchmark (started again as the load process and the bare servers) and CLI. */
  readonly #self: string;
  readonly #cli: string;
  #runners = 0;
  #worker: LoadWorker | undefined;

  constructor(self: string, cli: string) {
    this.#self = self;
    this.#cli = cli;
  }

  get worker(): LoadWorker {
    this.#worker ??= new LoadWorker(
      this.children.spawn('load process', [this.#self, 'load-worker'], childEnv({}), true),
    );
    return this.#worker;
  }

  cleanup(): void {
    this.children.killAll();
    for (const dir of this.tempDirs) rmSync(dir, { recursive: true, force: true });
  }

  startGateway(transport: Transport): Promise<RunningServer> {
    return startGatewayProcess(
      this.children,
      this.#cli,
      `gateway (${transport})`,
      { CODEEXEC_RUNNER_TOKENS: this.token, CODEEXEC_TRANSPORT: transport },
      this.tempDirs,
    );
  }

  async startBare(kind: Transport): Promise<RunningServer> {
    const port = await freePort();
    const child = this.children.spawn(
      `bare ${kind} server`,
      [this.#self, 'bare-server', kind, String(port)],
      childEnv({}),
    );
    await child.waitForLine((line) => (line === `listening ${port}` ? true : undefined), 15_000, 'listening');
    return { child, url: `ws://127.0.0.1:${port}/` };
  }

  relay(gateway: RunningServer, sockets: number, seconds: number, pace: RelayPace): Promise<RelayResult> {
    return this.#whileUp(gateway.child, {
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
    return this.#whileUp(gateway.child, {
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
              `${Math.round(saturated.msgsPerSec)} msgs/s, p99 ${paced.p99Ms.toFixed(2)} ms at ${config.latencyRate}/s`,
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
    await this.#whileUp(child, { type: 'idle-open', url, count: 100 });
    await this.#whileUp(child, { type: 'idle-close' });
    const before = await settledRss(child.pid);
    await this.#whileUp(child, { type: 'idle-open', url, count });
    const after = await settledRss(child.pid);
    await this.#whileUp(child, { type: 'idle-close' });
    return { before, after };
  }

  /** A load command that fails at once if the server it talks to exits meanwhile. */
  #whileUp<C extends LoadCommand>(server: Child, command: C): Promise<LoadAnswers[C['type']]> {
    return unlessExits([server], this.worker.request(command), command.type);
  }

  /** A fresh gateway (nothing from the relay runs in its heap), or a bare server. */
  async idlePhase(kind: 'gateway' | 'bare', transport: Transport): Promise<IdleResult> {
    log(`${kind} ${transport}: ${config.idleSockets} idle sockets`);
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

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}
