// The runner as a library: a sandbox pool and a gateway connection, joined by the job protocol.
// `Runner.start()` is what the CLI, the tests and (later) the desktop app call.
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import {
  CodeexecError,
  consoleLogger,
  type GatewayToRunner,
  type Logger,
  type OfferedJob,
  PROTOCOL_VERSION,
  type RunnerLanguage,
  type RunnerToGateway,
} from '../shared/index.js';
import { GatewayConnection } from './gateway-connection.js';
import { SandboxPool } from './sandbox-pool.js';

export const RUNNER_VERSION = '0.1.0';

export interface RunnerOptions {
  gatewayUrl: string;
  token: string;
  name?: string;
  /** Jobs run at once. */
  slots?: number;
  labels?: string[];
  log?: Logger;
  minWarm?: number;
  maxWarm?: number;
  /** Reconnect backoff bounds (tests shorten them). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

interface HeldJob {
  abort: AbortController;
  seq: number;
}

/** Events: `ready` (welcomed by the gateway), `fatal` (Error: the gateway refused us for good). */
export class Runner extends EventEmitter {
  readonly name: string;
  readonly #options: RunnerOptions;
  readonly #log: Logger;
  readonly #pool: SandboxPool;
  readonly #connection: GatewayConnection;
  #languages: RunnerLanguage[] = [];
  readonly #held = new Map<string, HeldJob>();
  /** Results that finished while the gateway was unreachable: sent after the next welcome. */
  readonly #outbox: RunnerToGateway[] = [];
  #closing: Promise<void> | null = null;

  private constructor(options: RunnerOptions) {
    super();
    this.#options = options;
    // Stable across restarts, so a restarted runner finds and removes its own orphans.
    this.name = options.name ?? hostname();
    this.#log = options.log ?? consoleLogger;
    this.#pool = new SandboxPool({
      runnerName: this.name,
      minWarm: options.minWarm ?? 1,
      maxWarm: options.maxWarm ?? Math.max(2, options.slots ?? 2),
    });
    this.#connection = new GatewayConnection({
      gatewayUrl: options.gatewayUrl,
      log: this.#log,
      minBackoffMs: options.minBackoffMs,
      maxBackoffMs: options.maxBackoffMs,
      hello: () => ({
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        token: this.#options.token,
        name: this.name,
        version: RUNNER_VERSION,
        languages: this.#languages,
        slots: this.slots,
        labels: this.#options.labels ?? [],
        held: [...this.#held.keys()],
      }),
    });
    this.#connection.on('welcome', () => {
      this.#log('info', 'connected to the gateway', { gateway: options.gatewayUrl, runner: this.name });
      for (const frame of this.#outbox.splice(0)) this.#connection.send(frame);
      this.emit('ready');
    });
    this.#connection.on('frame', (frame: GatewayToRunner) => this.#onFrame(frame));
    this.#connection.on('heartbeat', () =>
      this.#connection.send({ type: 'heartbeat', jobs: [...this.#held.keys()] }),
    );
    this.#connection.on('fatal', (err: Error) => {
      this.#log('error', err.message);
      this.emit('fatal', err);
    });
  }

  /** Removes this runner's orphan containers, detects its languages, then dials the gateway. */
  static async start(options: RunnerOptions): Promise<Runner> {
    const runner = new Runner(options);
    runner.#languages = await runner.#pool.start();
    if (runner.#languages.length === 0) {
      await runner.#pool.close();
      throw new Error('no sandbox image is available: build them with `npm run images`');
    }
    runner.#log('info', 'runner languages', {
      languages: runner.#languages.map((l) => `${l.name} ${l.version}`),
    });
    runner.#connection.start();
    return runner;
  }

  get slots(): number {
    return this.#options.slots ?? 2;
  }

  get languages(): readonly RunnerLanguage[] {
    return this.#languages;
  }

  /** Resolves on the next welcome; rejects if the gateway refuses this runner for good. */
  connected(): Promise<void> {
    if (this.#connection.state === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onReady = () => {
        this.off('fatal', onFatal);
        resolve();
      };
      const onFatal = (err: Error) => {
        this.off('ready', onReady);
        reject(err);
      };
      this.once('ready', onReady);
      this.once('fatal', onFatal);
    });
  }

  /** Cancels held jobs, disconnects, removes every container. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const job of this.#held.values()) job.abort.abort();
      this.#connection.close();
      await this.#pool.close();
    })();
    return this.#closing;
  }

  #onFrame(frame: GatewayToRunner): void {
    switch (frame.type) {
      case 'offer':
        this.#onOffer(frame.job);
        return;
      case 'cancel':
        this.#held.get(frame.job_id)?.abort.abort();
        return;
      case 'heartbeat':
      case 'welcome':
        return;
      case 'error':
        this.#log('warn', 'the gateway reported an error', { code: frame.code, message: frame.message });
        return;
      default: {
        const never: never = frame;
        this.#log('warn', 'unexpected frame', { frame: never });
      }
    }
  }

  #onOffer(job: OfferedJob): void {
    if (this.#closing || this.#held.size >= this.slots) {
      this.#connection.send({
        type: 'reject',
        job_id: job.id,
        reason: this.#closing ? 'stopping' : 'no free slot',
      });
      return;
    }
    if (!this.#languages.some((lang) => lang.name === job.lang)) {
      this.#connection.send({ type: 'reject', job_id: job.id, reason: `language ${job.lang} not offered` });
      return;
    }
    const held: HeldJob = { abort: new AbortController(), seq: 0 };
    this.#held.set(job.id, held);
    this.#connection.send({ type: 'accept', job_id: job.id });
    void this.#run(job, held);
  }

  async #run(job: OfferedJob, held: HeldJob): Promise<void> {
    let done: RunnerToGateway;
    try {
      const result = await this.#pool.execute(
        job,
        (chunk) => {
          this.#connection.send({
            type: 'output',
            job_id: job.id,
            stream: chunk.stream,
            seq: held.seq++,
            data: chunk.data,
          });
        },
        held.abort.signal,
      );
      done = { type: 'done', job_id: job.id, result };
    } catch (err) {
      const error =
        err instanceof CodeexecError ? err : new CodeexecError('sandbox_failed', (err as Error).message);
      this.#log('error', 'job failed in the sandbox', { job: job.id, error: error.message });
      done = { type: 'done', job_id: job.id, error: { code: error.code, message: error.message } };
    }
    this.#held.delete(job.id);
    if (!this.#connection.send(done)) this.#outbox.push(done);
  }
}
