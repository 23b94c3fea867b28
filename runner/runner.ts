// The runner as a library: a sandbox pool and a gateway connection, joined by the job protocol.
// `Runner.start()` is what the CLI, the tests and (later) the desktop app call.
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import {
  CodeexecError,
  consoleLogger,
  type GatewayToRunner,
  LANGUAGES,
  type Logger,
  MAX_RUNNER_FRAME_BYTES,
  type OfferedJob,
  PROTOCOL_VERSION,
  type RunnerLanguage,
  type RunnerToGateway,
} from '../shared/index.js';
import { GatewayConnection } from './connection/gateway-connection.js';
import { fitResult } from './execution/fit-result.js';
import { JobControl } from './execution/job-control.js';
import { SandboxPool } from './pool/sandbox-pool.js';
import { RunnerSessions, type SessionEnd } from './sessions/runner-sessions.js';

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
  /** Offer only these languages (canonical names); default every one whose image exists. */
  languages?: readonly string[];
}

interface HeldJob {
  abort: AbortController;
  seq: number;
  /** Signals for the program, and its live stdin when the job is interactive. */
  control: JobControl;
  /** The session it runs in (it takes no slot of its own), or null for a pooled job. */
  session: string | null;
  /** The gateway socket it was accepted on (see #socketEpoch). */
  epoch: number;
}

type DoneFrame = Extract<RunnerToGateway, { type: 'done' }>;

/**
 * starting → running → draining → stopping → stopped; `stopping` may also follow `starting` or
 * `running` directly (close). Only a `running` runner accepts offers.
 */
export type RunnerState = 'starting' | 'running' | 'draining' | 'stopping' | 'stopped';

const NEXT: Record<RunnerState, readonly RunnerState[]> = {
  starting: ['running', 'stopping'],
  running: ['draining', 'stopping'],
  draining: ['stopping'],
  stopping: ['stopped'],
  stopped: [],
};

/**
 * Events: `ready` (welcomed by the gateway), `fatal` (Error: the gateway refused us for good),
 * `stopped` (closed, after a drain or not).
 */
export class Runner extends EventEmitter {
  readonly name: string;
  readonly #options: RunnerOptions;
  readonly #log: Logger;
  readonly #pool: SandboxPool;
  readonly #connection: GatewayConnection;
  #languages: RunnerLanguage[] = [];
  readonly #held = new Map<string, HeldJob>();
  readonly #sessions: RunnerSessions;
  /**
   * Counts gateway sockets. A session's execution belongs to the socket it was accepted on: it is
   * never held across a reconnect, and its done is not sent on a later socket.
   */
  #socketEpoch = 0;
  /** Results that finished while the gateway was unreachable, by job: sent after the next welcome. */
  readonly #outbox = new Map<string, DoneFrame>();
  #state: RunnerState = 'starting';
  #closing: Promise<void> | null = null;
  #drained: Promise<void> | null = null;

  private constructor(options: RunnerOptions) {
    super();
    this.#options = options;
    // Stable across restarts, so a restarted runner finds and removes its own orphans.
    this.name = options.name ?? hostname();
    this.#log = options.log ?? consoleLogger;
    this.#pool = new SandboxPool({
      runnerName: this.name,
      ...(options.languages ? { languages: languagesNamed(options.languages) } : {}),
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
        // Finished-but-unreported jobs count as held: their results follow the welcome, and the
        // gateway must not run them again meanwhile. A session's executions never are.
        held: [...this.#pooledJobs(), ...this.#outbox.keys()],
        draining: this.#state === 'draining',
        building: [],
        paused: false,
      }),
    });
    this.#connection.on('welcome', () => {
      this.#log('info', 'connected to the gateway', { gateway: options.gatewayUrl, runner: this.name });
      for (const [id, frame] of [...this.#outbox]) {
        if (this.#connection.send(frame)) this.#outbox.delete(id);
      }
      this.emit('ready');
      this.#drainStep();
    });
    this.#sessions = new RunnerSessions({
      pool: this.#pool,
      send: (frame) => this.#connection.send(frame),
      log: this.#log,
      onRemoved: () => this.#drainStep(),
    });
    this.#connection.on('frame', (frame: GatewayToRunner) => this.#onFrame(frame));
    this.#connection.on('heartbeat', () => {
      const jobs = [...this.#held].filter(([, job]) => this.#reportable(job)).map(([id]) => id);
      this.#connection.send({ type: 'heartbeat', jobs });
    });
    // A session cannot outlive its socket: the gateway ends its side, so the runner ends its own.
    this.#connection.on('disconnected', () => {
      this.#socketEpoch++;
      this.#sessions.endAll();
    });
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
    if (!runner.#moveTo('running')) return runner; // closed while the pool started
    runner.#connection.start();
    return runner;
  }

  get state(): RunnerState {
    return this.#state;
  }

  get slots(): number {
    return this.#options.slots ?? 2;
  }

  get languages(): readonly RunnerLanguage[] {
    return this.#languages;
  }

  /** Resolves when the sandbox pool is full and idle (no creations or removals under way). */
  settled(): Promise<void> {
    return this.#pool.settled();
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

  /**
   * Drains: takes no more jobs (tells the gateway, rejects offers), finishes the held ones and
   * reports their results (heartbeats go on, and a lost gateway is waited for), then closes.
   * Resolves once stopped. A close() meanwhile cuts it short. Idempotent.
   */
  drain(): Promise<void> {
    if (this.#moveTo('draining')) {
      this.#log('info', 'draining: finishing held jobs, taking no new ones', { held: this.#held.size });
      this.#connection.send({ type: 'drain' });
      this.#sessions.drain();
      this.#drained = new Promise((resolve) => this.once('stopped', resolve));
      this.#drainStep();
    }
    return this.#drained ?? this.close();
  }

  /**
   * Cancels held jobs, ends every session (silently: the socket closes too), disconnects (the
   * gateway re-queues the jobs), removes every container. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#moveTo('stopping');
      this.#socketEpoch++;
      this.#sessions.endAll();
      for (const job of this.#held.values()) job.abort.abort();
      this.#connection.close();
      await this.#pool.close();
      this.#moveTo('stopped');
      this.emit('stopped');
    })();
    return this.#closing;
  }

  #moveTo(to: RunnerState): boolean {
    if (!NEXT[this.#state].includes(to)) return false;
    this.#state = to;
    return true;
  }

  /** Whether the current socket may hear of this job: a session's execution only on its own. */
  #reportable(job: HeldJob): boolean {
    return job.session === null || job.epoch === this.#socketEpoch;
  }

  /** Jobs that hold a slot each: every held job but a session's executions. */
  #pooledJobs(): string[] {
    return [...this.#held].filter(([, job]) => job.session === null).map(([id]) => id);
  }

  /** Slots in use: pooled jobs, and one per session for its whole life. */
  get #slotsUsed(): number {
    return this.#pooledJobs().length + this.#sessions.slots;
  }

  /** A draining runner stops once it holds nothing and every result has been handed over. */
  #drainStep(): void {
    if (this.#state !== 'draining' || this.#held.size > 0 || this.#outbox.size > 0) return;
    if (this.#sessions.size > 0) return;
    this.#log('info', 'drained: every held job is finished and reported');
    void this.close();
  }

  #onFrame(frame: GatewayToRunner): void {
    switch (frame.type) {
      case 'offer':
        this.#onOffer(frame.job);
        return;
      case 'cancel':
        this.#held.get(frame.job_id)?.abort.abort();
        return;
      case 'stdin':
      case 'stdin_eof':
      case 'signal':
        this.#onControl(frame);
        return;
      case 'session_open':
        this.#sessions.open(frame, () => this.#sessionRefusal(frame.lang));
        return;
      case 'session_close':
        this.#sessions.close(frame.session_id);
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

  /** Interactive input: to the held job's program; for a job not held here, dropped with a warning. */
  #onControl(frame: Extract<GatewayToRunner, { type: 'stdin' | 'stdin_eof' | 'signal' }>): void {
    const control = this.#held.get(frame.job_id)?.control;
    if (control === undefined || (frame.type !== 'signal' && control.input === null)) {
      this.#log('warn', `${frame.type} for a job this runner does not run interactively; dropped`, {
        job: frame.job_id,
      });
      return;
    }
    if (frame.type === 'signal') control.signal(frame.signal);
    else if (frame.type === 'stdin') control.input?.write(Buffer.from(frame.data, 'utf8'));
    else control.input?.end();
  }

  /** Why a session cannot open here now, or null. */
  #sessionRefusal(lang: string): SessionEnd | null {
    if (this.#state !== 'running') {
      return { code: 'runner_rejected', message: `The runner is ${this.#state}: it opens no session` };
    }
    if (this.#slotsUsed >= this.slots) {
      return { code: 'runner_rejected', message: `The runner has no free slot (${this.slots} in use)` };
    }
    if (!this.#languages.some((known) => known.name === lang)) {
      return { code: 'unknown_language', message: `The language ${lang} is not offered by this runner` };
    }
    return null;
  }

  #onOffer(job: OfferedJob): void {
    const known = this.#held.get(job.id);
    if (known !== undefined) {
      // Already running here: the gateway lost our accept (it restarted). Accept again, run once.
      // A session's execution from an earlier socket is ending with its session.
      if (this.#reportable(known)) this.#connection.send({ type: 'accept', job_id: job.id });
      else this.#connection.send({ type: 'reject', job_id: job.id, reason: 'its session has ended' });
      return;
    }
    if (job.session_id !== null) {
      this.#onSessionOffer(job);
      return;
    }
    if (this.#state !== 'running' || this.#slotsUsed >= this.slots) {
      this.#connection.send({
        type: 'reject',
        job_id: job.id,
        reason: this.#state === 'running' ? 'no free slot' : this.#state,
      });
      return;
    }
    if (!this.#languages.some((lang) => lang.name === job.lang)) {
      this.#connection.send({ type: 'reject', job_id: job.id, reason: `language ${job.lang} not offered` });
      return;
    }
    void this.#run(job, this.#accept(job, null), this.#pool);
  }

  /** An execution in an open session: its sandbox, no slot of its own. */
  #onSessionOffer(job: OfferedJob): void {
    const session = this.#sessions.claim(job);
    if (typeof session === 'string') {
      this.#connection.send({ type: 'reject', job_id: job.id, reason: session });
      return;
    }
    void this.#run(job, this.#accept(job, job.session_id), session);
  }

  #accept(job: OfferedJob, session: string | null): HeldJob {
    const held: HeldJob = {
      abort: new AbortController(),
      seq: 0,
      control: new JobControl(job.interactive),
      session,
      epoch: this.#socketEpoch,
    };
    this.#held.set(job.id, held);
    this.#connection.send({ type: 'accept', job_id: job.id });
    this.#log('info', 'job accepted', { job: job.id, lang: job.lang, ...(session ? { session } : {}) });
    return held;
  }

  /** Runs a held job in the pool or in its session, and reports its end. */
  async #run(job: OfferedJob, held: HeldJob, sandbox: Pick<SandboxPool, 'execute'>): Promise<void> {
    // A pooled job's output is sent while some socket is up; a session's only on its own socket.
    const send = (frame: RunnerToGateway) => this.#reportable(held) && this.#connection.send(frame);
    let done: DoneFrame;
    try {
      const result = await sandbox.execute(
        { ...job, control: held.control },
        (chunk) => {
          send({ type: 'output', job_id: job.id, stream: chunk.stream, seq: held.seq++, data: chunk.data });
        },
        held.abort.signal,
        (stage, compile) => send({ type: 'stage', job_id: job.id, stage, compile }),
      );
      done = { type: 'done', job_id: job.id, result: fitResult(result, MAX_RUNNER_FRAME_BYTES - 64 * 1024) };
    } catch (err) {
      const error =
        err instanceof CodeexecError ? err : new CodeexecError('sandbox_failed', (err as Error).message);
      this.#log('error', 'job failed in the sandbox', { job: job.id, error: error.message });
      done = { type: 'done', job_id: job.id, error: { code: error.code, message: error.message } };
    }
    this.#held.delete(job.id);
    // A session's execution is reported on its own socket only; a pooled job's waits for the next.
    const sent = send(done);
    if (!sent && held.session === null) this.#outbox.set(job.id, done);
    if (held.session !== null) this.#sessions.executionEnded(held.session);
    // One line per finished job: operators (and the fault tests) count completions by it.
    this.#log('info', 'job finished', {
      job: job.id,
      ...(done.result ? { reason: done.result.reason } : { error: done.error?.code }),
      reported: sent,
    });
    this.#drainStep();
  }
}

/** The language table's rows for these names; an unknown name is a configuration error. */
function languagesNamed(names: readonly string[]) {
  const unknown = names.filter((name) => !LANGUAGES.some((lang) => lang.name === name));
  if (unknown.length > 0) {
    const known = LANGUAGES.map((lang) => lang.name).join(', ');
    throw new Error(`unknown language(s) ${unknown.join(', ')}; known: ${known}`);
  }
  return LANGUAGES.filter((lang) => names.includes(lang.name));
}
