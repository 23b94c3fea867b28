// Dispatch throughput with 1, 2 and 3 gateways (issue 14, item 5). Measures jobs/s and end-to-end
// latency (a client's `execute` frame on /execute/ws → its `exit` frame) of tiny jobs through
// gateways that share PostgreSQL (CODEEXEC_STORE) and NATS (CODEEXEC_BUS), 1, 2 and 3 of them, and
// one gateway on its files (lowdb) as the baseline; then prints the table and the ratios (each
// against lowdb×1 and against postgres×1) and the scaling efficiency, jobs/s(n) ÷ (n × jobs/s(1)).
//
// - Every gateway is `node dist/cli.js gateway` in its own process (uWebSockets.js, log level warn:
//   no line per job), on a free loopback port with a temporary data directory; PostgreSQL and
//   nats-server are private ones (test/postgres-process.ts, test/nats-process.ts: loopback, free
//   ports, temporary directories), PostgreSQL with fsync on as deployed; a new database per run.
// - The load: BENCH_LOAD_PROCESSES processes (bench/load-worker.ts), the same number whatever the
//   number of gateways, holding BENCH_RUNNERS synthetic runners (bench/synthetic-runner.ts: the
//   real runner protocol, no Docker; each job: accept, one chunk, a result) and BENCH_SOCKETS
//   client sockets. Each runner and each socket is on one gateway, spread evenly: a job runs on
//   the gateway it was submitted to (the fleet moves a job only when its gateway's runners cannot
//   take it; they have slots to spare here), so each gateway gets the same share of the load.
// - Each run: a closed loop (every socket keeps BENCH_PER_SOCKET jobs unfinished) for a 1 s
//   warm-up, then BENCH_SECONDS measured: jobs/s, p50, p95, and the CPU that each part used
//   (gateways, PostgreSQL, NATS, load processes, and the whole machine, others' work included);
//   then, unless BENCH_RATE=0, BENCH_RATE jobs/s offered in all (below saturation), for the
//   latency of a job when nothing queues. With PostgreSQL, the transactions committed per job too.
// - Each round runs every configuration once, on fresh gateways and a fresh database, alternating
//   the order from round to round; the tables show the medians of BENCH_ROUNDS rounds.
// - Every child process (gateways, load processes, PostgreSQL, nats-server) and temporary
//   directory is removed at the end, on failure and on Ctrl-C.
//
// Run: `npm run bench:gateways` (builds first; ~3 minutes). Knobs (environment), defaults in
// brackets: BENCH_ROUNDS [3], BENCH_SECONDS [4], BENCH_GATEWAYS [3] (most PostgreSQL gateways),
// BENCH_SOCKETS [12], BENCH_PER_SOCKET [16] (≤ 16), BENCH_RUNNERS [6] (sockets and runners must
// divide evenly by every number of gateways), BENCH_LOAD_PROCESSES [3], BENCH_RATE [50]
// (0: no paced runs), BENCH_PG_FSYNC [1] (0: PostgreSQL with fsync off), BENCH_NATS [1] (0: the
// PostgreSQL gateways share no bus; each job stays on its gateway anyway: the store's share alone).
// A quick run for development: `BENCH_ROUNDS=1 BENCH_SECONDS=1 BENCH_RATE=0 npm run bench:gateways`.
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_JOBS_PER_SOCKET } from '../shared/index.js';
import { launchNatsServer, type NatsProcess } from '../test/nats-process.js';
import { launchPostgres, type PostgresProcess } from '../test/postgres-process.js';
import { envNumber, log } from './gateway-bench.js';
import { type GatewayIssue, type Measured, report, type StoreKind, type Summary } from './gateways-report.js';
import { LoadWorker, runLoadWorker } from './load-worker.js';
import { percentile } from './pool-stats.js';
import {
  Children,
  childEnv,
  cpuMsOf,
  descendants,
  machineBusyMs,
  type RunningGateway,
  startGatewayProcess,
  unlessExits,
} from './processes.js';
import type { TimedJobsParams, TimedJobsResult } from './tiny-jobs.js';

const here = fileURLToPath(new URL('.', import.meta.url));
/** The built CLI beside this built file (dist/bench/gateways.js → dist/cli.js). */
const CLI = join(here, '..', 'cli.js');

const config = {
  rounds: envNumber('BENCH_ROUNDS', 3),
  seconds: envNumber('BENCH_SECONDS', 4),
  warmupMs: 1_000,
  maxGateways: envNumber('BENCH_GATEWAYS', 3),
  sockets: envNumber('BENCH_SOCKETS', 12),
  perSocket: envNumber('BENCH_PER_SOCKET', 16),
  runners: envNumber('BENCH_RUNNERS', 6),
  loadProcesses: envNumber('BENCH_LOAD_PROCESSES', 3),
  rate: envNumber('BENCH_RATE', 50, 0),
  pgFsync: envNumber('BENCH_PG_FSYNC', 1, 0) === 1,
  nats: envNumber('BENCH_NATS', 1, 0) === 1,
  /** Time the load processes get to connect their runners and sockets before a run starts. */
  setupMs: 1_500,
  timeoutMs: 60_000,
};

interface Configuration {
  store: StoreKind;
  gateways: number;
}

function configurations(): Configuration[] {
  const out: Configuration[] = [{ store: 'lowdb', gateways: 1 }];
  for (let n = 1; n <= config.maxGateways; n++) out.push({ store: 'postgres', gateways: n });
  return out;
}

function check(): void {
  if (config.perSocket > MAX_JOBS_PER_SOCKET) {
    throw new Error(`BENCH_PER_SOCKET must be ≤ ${MAX_JOBS_PER_SOCKET} (the gateway's limit per socket)`);
  }
  for (const { gateways } of configurations()) {
    if (config.sockets % gateways !== 0 || config.runners % gateways !== 0) {
      throw new Error(
        `BENCH_SOCKETS (${config.sockets}) and BENCH_RUNNERS (${config.runners}) must divide by every ` +
          `number of gateways (1…${config.maxGateways}), so each gateway gets the same share`,
      );
    }
  }
  if (config.loadProcesses > Math.min(config.sockets, config.runners)) {
    throw new Error('BENCH_LOAD_PROCESSES must be ≤ BENCH_SOCKETS and ≤ BENCH_RUNNERS');
  }
}

/**
 * Item i of `count` (a runner, a socket): its gateway (i mod gateways, so each gateway gets the
 * same number) and its load process (contiguous blocks, so each process gets about as many).
 */
function spread(count: number, gateways: number, processes: number): { gateway: number; process: number }[] {
  return Array.from({ length: count }, (_v, i) => ({
    gateway: i % gateways,
    process: Math.floor((i * processes) / count),
  }));
}

/** The whole benchmark's processes and directories: all removed by cleanup(), also from 'exit'. */
class Cluster {
  readonly children = new Children();
  readonly tempDirs: string[] = [];
  readonly token = randomBytes(18).toString('base64url');
  readonly workers: LoadWorker[] = [];
  postgres: PostgresProcess | undefined;
  nats: NatsProcess | undefined;
  /** Warnings and errors the gateways logged, by message. */
  readonly issues = new Map<string, GatewayIssue>();

  /** Synchronous: it runs from the process's 'exit' handler too. */
  cleanup(): void {
    this.children.killAll();
    this.nats?.destroySync();
    this.postgres?.destroySync();
    for (const dir of this.tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }

  /** The gateways of `setup`, started side by side; and the new database they share, if any. */
  async startGateways(
    setup: Configuration,
    label: string,
  ): Promise<{ gateways: RunningGateway[]; database: string | undefined }> {
    const env: Record<string, string> = {
      CODEEXEC_RUNNER_TOKENS: this.token,
      CODEEXEC_TRANSPORT: 'uws',
      CODEEXEC_LOG_LEVEL: 'warn',
      CODEEXEC_LOG_FORMAT: 'json',
    };
    let database: string | undefined;
    if (setup.store === 'postgres') {
      database = await this.postgres!.createDatabase();
      env.CODEEXEC_STORE = database;
      if (this.nats) env.CODEEXEC_BUS = this.nats.url;
    }
    const gateways = await Promise.all(
      Array.from({ length: setup.gateways }, async (_v, i) => {
        const name = `gateway ${i + 1}/${setup.gateways} (${setup.store})`;
        const gateway = await startGatewayProcess(this.children, CLI, name, env, this.tempDirs);
        gateway.child.onLine((line) => this.#noteIssue(label, line));
        return gateway;
      }),
    );
    return { gateways, database };
  }

  /**
   * Transactions committed in `database` so far, once no other session is connected to it (a
   * backend reports its counts to pg_stat_database by the time it has exited).
   */
  async commits(database: string): Promise<number> {
    const others =
      'SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()';
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
      if (Number(await this.postgres!.psql(database, others)) === 0) break;
      // Backends exit just after their clients close: there is nothing to wait on from here.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const sql = 'SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()';
    return Number(await this.postgres!.psql(database, sql));
  }

  #noteIssue(label: string, line: string): void {
    let entry: { level?: number; msg?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      entry = { level: 50, msg: line };
    }
    if ((entry.level ?? 0) < 40) return;
    const key = `${entry.level} ${entry.msg}`;
    const issue = this.issues.get(key) ?? {
      level: entry.level ?? 50,
      count: 0,
      where: new Set(),
      example: line,
    };
    issue.count++;
    issue.where.add(label);
    this.issues.set(key, issue);
  }
}

/** CPU time (ms) of each group of processes, and of the whole machine, read from /proc. */
type CpuSample = Record<'gateways' | 'postgres' | 'nats' | 'load', Map<number, number>> & { machine: number };

function sampleCpu(cluster: Cluster, gateways: RunningGateway[]): CpuSample {
  const pg = cluster.postgres?.pid();
  return {
    gateways: cpuMsOf(gateways.map((gateway) => gateway.child.pid)),
    postgres: cpuMsOf(pg === undefined ? [] : [pg, ...descendants(pg)]),
    nats: cpuMsOf(cluster.nats?.pid === undefined ? [] : [cluster.nats.pid]),
    load: cpuMsOf(cluster.workers.map((worker) => worker.child.pid)),
    machine: machineBusyMs(),
  };
}

/** Percent of one core used by each group between two samples `ms` apart. */
function cpuPercent(before: CpuSample, after: CpuSample, ms: number): Measured['cpu'] {
  const group = (key: Exclude<keyof CpuSample, 'machine'>) => {
    let used = 0;
    // A process that started during the window counts from 0; one that ended is lost (rare).
    for (const [pid, end] of after[key]) used += Math.max(0, end - (before[key].get(pid) ?? 0));
    return (used / ms) * 100;
  };
  return {
    gateways: group('gateways'),
    postgres: group('postgres'),
    nats: group('nats'),
    load: group('load'),
    machine: ((after.machine - before.machine) / ms) * 100,
  };
}

/** One timed run on running gateways: every load process at once, the same window. */
async function timedRun(
  cluster: Cluster,
  gateways: RunningGateway[],
  label: string,
  pace: 'closed' | 'rate',
): Promise<Measured> {
  const urls = gateways.map((gateway) => gateway.url);
  const n = gateways.length;
  const runners = spread(config.runners, n, config.loadProcesses);
  const sockets = spread(config.sockets, n, config.loadProcesses);
  // Each runner could take every job of its gateway: runners never limit the rate.
  const slots = Math.ceil(((config.sockets / n) * config.perSocket) / (config.runners / n)) * 2;
  const slug = label.replace(/[^a-z0-9]+/gi, '-');
  const startAt = Date.now() + config.setupMs;
  const from = startAt + config.warmupMs;
  const durationMs = config.seconds * 1000;
  const params = cluster.workers.map((_w, p): TimedJobsParams => {
    const mySockets = sockets.filter((s) => s.process === p).map((s) => urls[s.gateway]!);
    return {
      token: cluster.token,
      runners: runners.flatMap((r, k) =>
        r.process === p
          ? [{ name: `bench-${slug}-${pace}-runner-${k + 1}`, gatewayUrl: urls[r.gateway]!, slots }]
          : [],
      ),
      sockets: mySockets,
      pace:
        pace === 'closed'
          ? { kind: 'closed', perSocket: config.perSocket }
          : { kind: 'rate', perSecond: (config.rate * mySockets.length) / config.sockets },
      startAt,
      warmupMs: config.warmupMs,
      durationMs,
      timeoutMs: config.timeoutMs,
    };
  });
  const servers = [
    ...gateways.map((gateway) => gateway.child),
    ...cluster.workers.map((worker) => worker.child),
  ];
  // CPU samples at the window's start and end (the load processes' clocks may run a few ms apart).
  const sampleAt = (time: number) =>
    new Promise<CpuSample>((resolve) => {
      setTimeout(() => resolve(sampleCpu(cluster, gateways)), Math.max(0, time - Date.now())).unref();
    });
  const before = sampleAt(from);
  const after = sampleAt(from + durationMs);
  let results: TimedJobsResult[];
  try {
    results = await unlessExits(
      servers,
      Promise.all(cluster.workers.map((worker, p) => worker.request({ type: 'timed', params: params[p]! }))),
      `${label} (${pace})`,
    );
  } finally {
    // Only now may runners go: each serves the sockets of every load process on its gateway.
    await Promise.allSettled(cluster.workers.map((worker) => worker.request({ type: 'timed-close' })));
  }
  const latencies = results.flatMap((result) => result.latenciesMs);
  const ended = results.reduce((sum, result) => sum + result.ended, 0);
  const perGateway = urls.map((url) =>
    results.reduce((sum, result) => sum + (result.endedPerGateway[url] ?? 0), 0),
  );
  const late = Math.max(...results.map((result) => result.lateMs));
  if (late > config.warmupMs / 2) {
    log(`${label}: a load process was ready ${Math.round(late)} ms late (warm-up ${config.warmupMs} ms)`);
  }
  return {
    jobsPerSec: ended / config.seconds,
    jobsAll: results.reduce((sum, result) => sum + result.endedAll, 0),
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    perGateway: perGateway.map((count) => count / config.seconds),
    cpu: cpuPercent(await before, await after, durationMs),
    failed: results.reduce((sum, result) => sum + result.failed, 0),
    firstFailure: results.find((result) => result.firstFailure)?.firstFailure ?? null,
    deferred: results.reduce((sum, result) => sum + result.deferred, 0),
  };
}

const name = (setup: Configuration) =>
  `${setup.store === 'lowdb' ? 'lowdb' : config.nats ? 'postgres+nats' : 'postgres'} ×${setup.gateways}`;

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npm run build)`);
  check();
  const cluster = new Cluster();
  // Every child and directory goes with us: at the end, on failure, and on Ctrl-C.
  process.on('exit', () => cluster.cleanup());
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => process.exit(130));
  const loadStart = loadavg()[0]!;
  const began = Date.now();
  if (loadStart > cpus().length / 2) {
    log(`the machine is busy (load average ${loadStart.toFixed(1)}): expect noisy figures`);
  }
  const setups = configurations();
  log(`starting PostgreSQL (fsync ${config.pgFsync ? 'on' : 'off'})${config.nats ? ' and nats-server' : ''}`);
  cluster.postgres = await launchPostgres({ fsync: config.pgFsync });
  if (config.nats) cluster.nats = await launchNatsServer();
  const self = fileURLToPath(import.meta.url);
  for (let p = 0; p < config.loadProcesses; p++) {
    const child = cluster.children.spawn(`load process ${p + 1}`, [self, 'load-worker'], childEnv({}), true);
    cluster.workers.push(new LoadWorker(child));
  }
  const runs = new Map<string, { closed: Measured[]; paced: Measured[]; commitsPerJob: number[] }>();
  for (let round = 0; round < config.rounds; round++) {
    const order = round % 2 === 0 ? setups : [...setups].reverse();
    for (const setup of order) {
      const label = `${name(setup)}, round ${round + 1}/${config.rounds}`;
      const { gateways, database } = await cluster.startGateways(setup, label);
      try {
        const closed = await timedRun(cluster, gateways, label, 'closed');
        const paced = config.rate > 0 ? await timedRun(cluster, gateways, label, 'rate') : undefined;
        await Promise.all(gateways.map((gateway) => gateway.child.stop()));
        const entry = runs.get(name(setup)) ?? { closed: [], paced: [], commitsPerJob: [] };
        runs.set(name(setup), entry);
        entry.closed.push(closed);
        if (paced) entry.paced.push(paced);
        if (database !== undefined) {
          entry.commitsPerJob.push(
            (await cluster.commits(database)) / (closed.jobsAll + (paced?.jobsAll ?? 0)),
          );
        }
        log(
          `${label}: ${Math.round(closed.jobsPerSec)} jobs/s (per gateway ${closed.perGateway.map(Math.round).join(' / ')}), ` +
            `p50 ${closed.p50.toFixed(1)} ms, p95 ${closed.p95.toFixed(1)} ms` +
            (paced
              ? `; at ${config.rate}/s p50 ${paced.p50.toFixed(1)} ms, p95 ${paced.p95.toFixed(1)} ms`
              : '') +
            (closed.failed + (paced?.failed ?? 0) > 0
              ? `; FAILED jobs: ${closed.failed + (paced?.failed ?? 0)}`
              : ''),
        );
      } finally {
        await Promise.all(gateways.map((gateway) => gateway.child.stop()));
      }
    }
  }
  for (const worker of cluster.workers) await worker.child.stop();
  const summaries: Summary[] = setups.map((setup) => ({
    name: name(setup),
    store: setup.store,
    gateways: setup.gateways,
    ...runs.get(name(setup))!,
  }));
  process.stdout.write(
    `\n${report(summaries, {
      config,
      postgres: cluster.postgres.version,
      nats: cluster.nats?.version ?? null,
      load: { start: loadStart, end: loadavg()[0]! },
      minutes: (Date.now() - began) / 60_000,
      issues: [...cluster.issues.values()],
    })}\n`,
  );
  await cluster.nats?.destroy();
  await cluster.postgres.destroy();
  cluster.cleanup();
}

if (process.argv[2] === 'load-worker') runLoadWorker();
else {
  await main().catch((err: unknown) => {
    process.stderr.write(`[bench] failed: ${String((err as Error).stack ?? err)}\n`);
    process.exit(1);
  });
}
