// The gateway's core without a transport, for unit tests: an in-memory store, a fake clock, the
// in-process bus, and runner connections whose sockets only record what they are sent. What the
// dispatcher, the registry and the session broker do is then tested on plain data, in
// milliseconds. (test/ runs the same parts for real: gateway, runners, Docker.)
import { type Logger, silentLogger } from '../../shared/index.js';
import { recordingSocket, type SentFrame } from '../../test/recording-socket.js';
import type { Bus } from '../bus/bus.js';
import { RunnerConnection } from '../runners/runner-connection.js';
import { FakeClock } from '../scheduling/clock.js';
import type { DonorMax } from '../scheduling/donor-limits.js';
import { MemoryJobStore } from '../store/memory-job-store.js';
import { createJobCore } from './job-core.js';

export interface CoreOptions {
  queueTimeoutMs?: number;
  offerTimeoutMs?: number;
  leaseMs?: number;
  maxAttempts?: number;
  maxQueue?: number;
  maxPerClient?: number;
  openTimeoutMs?: number;
  donorMax?: DonorMax;
  /** A store to start from (a gateway restart: then call dispatcher.recover()), or to share. */
  store?: MemoryJobStore;
  /** A bus to share with another core (two gateways in one test). */
  bus?: Bus;
  /** Default: silent. */
  log?: Logger;
}

export type FakeRunner = RunnerConnection & { sent: SentFrame[] };

export function dispatchCore(options: CoreOptions = {}) {
  const clock = new FakeClock();
  const store = options.store ?? new MemoryJobStore();
  const writeErrors: Error[] = [];
  const core = createJobCore({
    store,
    clock,
    log: options.log ?? silentLogger,
    queueTimeoutMs: options.queueTimeoutMs ?? 30_000,
    offerTimeoutMs: options.offerTimeoutMs ?? 5_000,
    leaseMs: options.leaseMs ?? 15_000,
    maxAttempts: options.maxAttempts ?? 3,
    maxQueue: options.maxQueue ?? 10_000,
    maxPerClient: options.maxPerClient ?? 1_000,
    storeOutputBytes: 1024 * 1024,
    // The memory store is durable at once; not waiting keeps every step synchronous.
    durableBeforeOffer: false,
    sessionOpenTimeoutMs: options.openTimeoutMs ?? 2_000,
    onWriteError: (err) => writeErrors.push(err),
    ...(options.donorMax ? { donorMax: options.donorMax } : {}),
    ...(options.bus ? { bus: options.bus } : {}),
  });
  const { dispatcher, sessions: broker } = core;

  /** A runner that said hello: ready, with these languages, slots and labels, holding `held`. */
  const connect = (
    name: string,
    over: {
      slots?: number;
      languages?: string[];
      labels?: string[];
      building?: string[];
      held?: string[];
      tier?: 'trusted' | 'donor';
      /** A donor's identity (its token's fingerprint); default: the runner's name. */
      identity?: string;
    } = {},
  ): FakeRunner => {
    const { socket, sent } = recordingSocket();
    const runner = new RunnerConnection(socket) as FakeRunner;
    runner.sent = sent;
    runner.moveTo('ready');
    runner.name = name;
    runner.slots = over.slots ?? 2;
    runner.labels = over.labels ?? [];
    runner.building = over.building ?? [];
    runner.tier = over.tier ?? 'trusted';
    runner.identity = over.identity ?? name;
    runner.languages = new Map(
      (over.languages ?? ['python']).map((lang) => [lang, { name: lang, version: '1', aliases: [] }]),
    );
    dispatcher.runnerReady(runner, over.held ?? []);
    return runner;
  };

  /** Offers sent to a runner so far (job ids). */
  const offers = (runner: FakeRunner) =>
    runner.sent.filter((f) => f.type === 'offer').map((f) => f.job.id as string);

  return { ...core, clock, store, broker, connect, offers, writeErrors };
}

export type Core = ReturnType<typeof dispatchCore>;

/** A run result as a runner reports it. */
export function result(stdout: string, over: Record<string, unknown> = {}) {
  return {
    stdout,
    stderr: '',
    output: stdout,
    exit_code: 0,
    signal: null,
    reason: 'exited' as const,
    wall_ms: 1,
    truncated: false,
    ...over,
  };
}
