// The runner: a warm sandbox pool and a gateway connection, joined by the job protocol, with what
// its owner controls at run time (pause, finish-then-pause, resume, caps, languages added as their
// images are built) and typed events for its embedder. Built by createRunner() (create-runner.ts).
import {
  consoleLogger,
  type GatewayToRunner,
  type Logger,
  type OfferedJob,
  PROTOCOL_VERSION,
  type RunnerLanguage,
} from '../shared/index.js';
import { GatewayConnection } from './connection/gateway-connection.js';
import { DockerSandbox } from './docker/docker-sandbox.js';
import { EngineWatch } from './engine-watch.js';
import { HeldJobs } from './held-jobs.js';
import { defaultRunnerName, type RunnerIdentity } from './identity/runner-identity.js';
import { SandboxPool } from './pool/sandbox-pool.js';
import type { RunnerEvents } from './runner-events.js';
import { languagesNamed, RunnerLanguages } from './runner-languages.js';
import { checkSlots, DEFAULT_SLOTS, type EngineDriver, type RunnerOptions } from './runner-options.js';
import { type RunnerState, RunnerStateMachine } from './runner-state.js';
import { RunnerSessions, type SessionEnd } from './sessions/runner-sessions.js';
import { TypedEmitter } from './typed-emitter.js';

export const RUNNER_VERSION = '0.1.0';
export type { RunnerState } from './runner-state.js';

/** The owner's caps: each applies to the next job (jobs already running keep theirs). */
export interface RunnerCaps {
  /** Jobs (and sessions) at once. */
  slots: number;
  /** CPUs per sandbox. */
  cpus: number;
  /** The most memory any job's sandbox gets, bytes; null: the runner's maximum. */
  memory: number | null;
}

export class Runner extends TypedEmitter<RunnerEvents> {
  /** The identity kept in the data directory: its containers carry it. */
  readonly id: string;
  readonly name: string;
  readonly dataDir: string;
  readonly #options: RunnerOptions;
  readonly #log: Logger;
  readonly #identity: RunnerIdentity;
  readonly #driver: EngineDriver;
  readonly #engine: EngineWatch;
  readonly #state: RunnerStateMachine;
  readonly #languages: RunnerLanguages;
  readonly #jobs: HeldJobs;
  readonly #sessions: RunnerSessions;
  readonly #connection: GatewayConnection;
  #pool: SandboxPool;
  #caps: RunnerCaps;
  /** A pause asked for while starting: the runner starts paused, for this reason. */
  #pauseOnStart: string | null;
  /** finishThenPause() calls, each waiting for the jobs that ran when it was called. */
  #finishing: { jobs: Set<string>; resolve: () => void }[] = [];
  /**
   * What the last hello said of capacity and languages: a change made before its welcome (the
   * socket cannot carry frames yet) is sent right after it.
   */
  #told = { capacity: '', languages: '' };
  #started: Promise<this> | null = null;
  #closing: Promise<void> | null = null;
  #drained: Promise<void> | null = null;

  /** Use createRunner(), which claims the identity first. */
  constructor(options: RunnerOptions, identity: RunnerIdentity) {
    super((err, event) => {
      // The embedder's bug: said loudly, but the runner's own bookkeeping goes on.
      (options.log ?? consoleLogger)('error', 'a runner event listener threw', { event, error: String(err) });
    });
    this.#options = options;
    this.#identity = identity;
    this.id = identity.id;
    this.dataDir = identity.dataDir;
    this.name = options.name ?? defaultRunnerName(identity.id);
    this.#log = options.log ?? consoleLogger;
    this.#caps = {
      slots: checkSlots(options.slots ?? DEFAULT_SLOTS),
      cpus: options.cpus ?? 1,
      memory: options.memory ?? null,
    };
    this.#pauseOnStart = options.paused ? 'started paused' : null;
    this.#driver = options.driver ?? new DockerSandbox(options.docker);
    this.#state = new RunnerStateMachine((change) => {
      this.#log('info', 'runner state', { ...change });
      this.emit('state', change);
    });
    this.#languages = new RunnerLanguages(options.building);
    this.#pool = this.#newPool();
    this.#engine = new EngineWatch({
      ping: () => this.#driver.ping(),
      missing: (message, retryMs) => {
        this.#log('error', 'the Docker engine does not answer', { error: message, retry_ms: retryMs });
        this.emit('engine.missing', { message, retry_ms: retryMs });
      },
      found: () => {
        this.#log('info', 'the Docker engine answers again');
        this.emit('engine.ready', undefined);
      },
      minRetryMs: options.engineRetryMinMs,
      maxRetryMs: options.engineRetryMaxMs,
    });
    this.#jobs = new HeldJobs({
      send: (frame) => this.#connection.send(frame),
      log: this.#log,
      started: (job) => this.emit('job.started', job),
      finished: (job) => {
        if (job.error === 'sandbox_failed') this.#engine.suspect();
        this.emit('job.finished', job);
      },
      sessionExecutionEnded: (session) => this.#sessions.executionEnded(session),
      changed: () => this.#jobsChanged(),
    });
    this.#sessions = new RunnerSessions({
      pool: { openSession: (...args) => this.#pool.openSession(...args) },
      send: (frame) => this.#connection.send(frame),
      log: this.#log,
      onRemoved: () => this.#drainStep(),
    });
    this.#connection = this.#newConnection();
  }

  /**
   * Waits for the Docker engine (retrying, `engine.missing` meanwhile), removes the containers a
   * previous process of this identity left, detects the languages, then dials the gateway.
   * Rejects when no language can run (and none is building); resolves at once if closed meanwhile.
   */
  start(): Promise<this> {
    this.#started ??= this.#start().catch(async (err: unknown) => {
      const closedMeanwhile = this.#closing !== null;
      await this.close();
      if (closedMeanwhile) return this;
      throw err;
    });
    return this.#started;
  }

  get state(): RunnerState {
    return this.#state.state;
  }

  /** Why the runner is in its state, for people. */
  get reason(): string {
    return this.#state.reason;
  }

  get slots(): number {
    return this.#caps.slots;
  }

  get caps(): Readonly<RunnerCaps> {
    return { ...this.#caps };
  }

  get languages(): readonly RunnerLanguage[] {
    return this.#languages.offered;
  }

  /** Languages whose images are being built elsewhere. */
  get building(): readonly string[] {
    return this.#languages.building;
  }

  /** Languages of this runner whose image was missing at start (to build, then addLanguage()). */
  get missingImages(): string[] {
    return this.#pool.missingImages;
  }

  /** Resolves when the sandbox pool is full and idle (no creations or removals under way). */
  settled(): Promise<void> {
    return this.#pool.settled();
  }

  /** Resolves on the next welcome; rejects if the gateway refuses this runner for good. */
  connected(): Promise<void> {
    if (this.#connection.state === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const offReady = this.once('ready', () => {
        offFatal();
        resolve();
      });
      const offFatal = this.once('fatal', (err) => {
        offReady();
        reject(err);
      });
    });
  }

  /**
   * Takes no new job or session (offers are rejected, and the gateway is told: `capacity` with
   * paused) and keeps what runs: jobs finish, open sessions stay (their next executions wait for
   * resume()). False when the runner is not running (draining, stopping, already paused).
   */
  pause(reason = 'paused by its owner'): boolean {
    if (this.#state.state === 'starting') {
      this.#pauseOnStart = reason;
      return true;
    }
    if (this.#state.state === 'paused') this.#state.explain(reason);
    if (!this.#state.moveTo('paused', reason)) return false;
    this.#sendCapacity();
    return true;
  }

  /** pause(), and resolves once the jobs running now have ended (their results sent or kept). */
  finishThenPause(reason = 'paused by its owner once its jobs end'): Promise<void> {
    this.pause(reason);
    return new Promise((resolve) => {
      this.#finishing.push({ jobs: new Set(this.#jobs.runningIds()), resolve });
      this.#jobsChanged();
    });
  }

  /** Takes jobs again (`capacity` with paused false). False when the runner was not paused. */
  resume(reason = 'running'): boolean {
    if (this.#state.state === 'starting') {
      const paused = this.#pauseOnStart !== null;
      this.#pauseOnStart = null;
      return paused;
    }
    if (!this.#state.moveTo('running', reason)) return false;
    this.#sendCapacity();
    return true;
  }

  /**
   * Changes the owner's caps for the next job: slots (the gateway is told with `capacity`), CPUs
   * of sandboxes from now on, a memory cap on every job (clamped to the runner's maximum; null
   * lifts it). Throws RangeError, changing nothing, for a value no sandbox could have.
   */
  setCaps(caps: { slots?: number; cpus?: number; memory?: number | null }): void {
    const slots = caps.slots === undefined ? this.#caps.slots : checkSlots(caps.slots);
    this.#pool.setCaps({
      ...(caps.cpus === undefined ? {} : { cpus: caps.cpus }),
      ...(caps.memory === undefined ? {} : { memoryBytes: caps.memory }),
    });
    const slotsChanged = slots !== this.#caps.slots;
    this.#caps = {
      slots,
      cpus: caps.cpus ?? this.#caps.cpus,
      memory: caps.memory === undefined ? this.#caps.memory : caps.memory,
    };
    this.#log('info', 'caps changed', { ...this.#caps });
    if (slotsChanged) this.#sendCapacity();
  }

  /** Languages being built elsewhere from now on: the gateway keeps their jobs waiting. */
  markBuilding(names: readonly string[]): void {
    if (this.#languages.markBuilding(names)) this.#announceLanguages();
  }

  /**
   * A language's image now exists: detect its version, keep it warm, offer it (`languages`).
   * Rejects (and stops saying it is building) when the image is missing or does not run.
   */
  async addLanguage(name: string): Promise<RunnerLanguage> {
    const [spec] = languagesNamed([name]);
    if (spec === undefined) throw new Error(`unknown language ${name}`);
    try {
      const language = await this.#pool.addLanguage(spec);
      this.#languages.added(language);
      this.#log('info', 'language added', { language: `${language.name} ${language.version}` });
      this.#announceLanguages();
      return language;
    } catch (err) {
      this.languageFailed(spec.name, (err as Error).message);
      throw err;
    }
  }

  /** A language's image could not be built: the gateway stops keeping its jobs waiting. */
  languageFailed(name: string, why: string): void {
    this.#log('warn', 'language unavailable', { language: name, error: why });
    if (this.#languages.failed(name)) this.#announceLanguages();
  }

  /**
   * Drains: takes no more jobs (tells the gateway, rejects offers), finishes the held ones and
   * reports their results (heartbeats go on, and a lost gateway is waited for), then closes.
   * Resolves once stopped. A close() meanwhile cuts it short. Idempotent.
   */
  drain(): Promise<void> {
    if (this.#state.moveTo('draining', 'finishing its jobs, then stopping')) {
      this.#log('info', 'draining: finishing held jobs, taking no new ones', { held: this.#jobs.running });
      this.#connection.send({ type: 'drain' });
      this.#sessions.drain();
      this.#drained = this.next('stopped');
      this.#drainStep();
    }
    return this.#drained ?? this.close();
  }

  /**
   * Cancels held jobs, ends every session (silently: the socket closes too), disconnects (the
   * gateway re-queues the jobs), removes every container, gives the data directory up. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#state.moveTo('stopping', 'closing');
      this.#engine.close();
      this.#jobs.newSocket();
      this.#sessions.endAll();
      this.#jobs.cancelAll();
      this.#connection.close();
      await this.#pool.close();
      await this.#identity.release();
      this.#state.moveTo('stopped', 'stopped');
      for (const waiter of this.#finishing.splice(0)) waiter.resolve();
      this.emit('stopped', undefined);
    })();
    return this.#closing;
  }

  async #start(): Promise<this> {
    this.#state.explain('waiting for the Docker engine');
    for (;;) {
      await this.#engine.reachable();
      this.#state.explain('starting its sandbox pool');
      try {
        this.#languages.started(await this.#pool.start());
        break;
      } catch (err) {
        // The engine went away between its ping and the pool's start: wait for it again.
        await this.#pool.close();
        if (this.#state.state !== 'starting') return this;
        const answers = await this.#driver.ping().then(
          () => true,
          () => false,
        );
        if (answers) throw err;
        this.#pool = this.#newPool();
        this.#engine.suspect();
      }
    }
    if (this.#state.state !== 'starting') return this; // closed while the pool started
    if (this.#languages.offered.length === 0 && this.#languages.building.length === 0) {
      throw new Error('no sandbox image is available: build them with `npm run images`');
    }
    this.#log('info', 'runner languages', {
      languages: this.#languages.offered.map((l) => `${l.name} ${l.version}`),
      building: this.#languages.building,
    });
    const paused = this.#pauseOnStart;
    if (paused !== null) this.#state.moveTo('paused', paused);
    else this.#state.moveTo('running', 'running');
    this.#connection.start();
    return this;
  }

  #newPool(): SandboxPool {
    const pool = new SandboxPool({
      runnerName: this.name,
      runnerId: this.id,
      docker: this.#driver,
      log: this.#log,
      ...(this.#options.languages ? { languages: languagesNamed(this.#options.languages) } : {}),
      minWarm: this.#options.minWarm ?? 1,
      maxWarm: this.#options.maxWarm ?? Math.max(2, this.#caps.slots),
      cpus: this.#caps.cpus,
    });
    if (this.#caps.memory !== null) pool.setCaps({ memoryBytes: this.#caps.memory });
    return pool;
  }

  #newConnection(): GatewayConnection {
    const connection = new GatewayConnection({
      gatewayUrl: this.#options.gatewayUrl,
      log: this.#log,
      minBackoffMs: this.#options.minBackoffMs,
      maxBackoffMs: this.#options.maxBackoffMs,
      hello: () => {
        this.#told = { capacity: this.#capacityNow(), languages: this.#languagesNow() };
        return {
          type: 'hello',
          protocol: PROTOCOL_VERSION,
          token: this.#options.token,
          name: this.name,
          version: RUNNER_VERSION,
          languages: [...this.#languages.offered],
          slots: this.#caps.slots,
          labels: [...(this.#options.labels ?? [])],
          held: this.#jobs.helloHeld(),
          draining: this.#state.state === 'draining',
          building: this.#languages.building,
          paused: this.#state.state === 'paused',
        };
      },
    });
    connection.on('welcome', (welcome) => {
      // Operators (and the fault tests) wait for this line.
      this.#log('info', 'connected to the gateway', { gateway: this.#options.gatewayUrl, runner: this.name });
      if (this.#told.capacity !== this.#capacityNow()) this.#sendCapacity();
      if (this.#told.languages !== this.#languagesNow()) connection.send(this.#languages.frame());
      this.#jobs.flush();
      this.emit('connection', {
        state: 'connected',
        gateway: this.#options.gatewayUrl,
        runner_id: welcome.runner_id,
      });
      this.emit('ready', { runner_id: welcome.runner_id });
      this.#drainStep();
    });
    connection.on('frame', (frame) => this.#onFrame(frame));
    connection.on('heartbeat', () =>
      connection.send({ type: 'heartbeat', jobs: this.#jobs.heartbeatJobs() }),
    );
    // A session cannot outlive its socket: the gateway ends its side, so the runner ends its own.
    connection.on('disconnected', ({ code, reason }) => {
      this.#jobs.newSocket();
      this.#sessions.endAll();
      this.emit('connection', { state: 'disconnected', code, reason });
    });
    connection.on('retrying', ({ in_ms }) => this.emit('connection', { state: 'retrying', in_ms }));
    connection.on('fatal', (err) => {
      this.#log('error', err.message);
      this.emit('fatal', err);
    });
    return connection;
  }

  #capacityNow(): string {
    return JSON.stringify([this.#caps.slots, this.#state.state === 'paused']);
  }

  #languagesNow(): string {
    return JSON.stringify(this.#languages.frame());
  }

  #sendCapacity(): void {
    this.#connection.send({
      type: 'capacity',
      slots: this.#caps.slots,
      paused: this.#state.state === 'paused',
    });
  }

  #announceLanguages(): void {
    this.#connection.send(this.#languages.frame());
    this.emit('languages', { languages: this.#languages.offered, building: this.#languages.building });
  }

  /** Slots in use: pooled jobs, and one per session for its whole life. */
  get #slotsUsed(): number {
    return this.#jobs.pooled + this.#sessions.slots;
  }

  #jobsChanged(): void {
    const running = new Set(this.#jobs.runningIds());
    this.#finishing = this.#finishing.filter((waiter) => {
      const done = [...waiter.jobs].every((id) => !running.has(id));
      if (done) waiter.resolve();
      return !done;
    });
    this.#drainStep();
  }

  /** A draining runner stops once it holds nothing and every result has been handed over. */
  #drainStep(): void {
    if (this.#state.state !== 'draining' || this.#jobs.running > 0 || this.#jobs.undelivered > 0) return;
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
        this.#jobs.cancel(frame.job_id);
        return;
      case 'stdin':
      case 'stdin_eof':
      case 'signal':
        this.#jobs.control(frame);
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

  /** Why no new job or session of `lang` can start here now, or null. */
  #refusal(lang: string): string | null {
    if (this.#state.state !== 'running') return this.#state.state;
    if (this.#engine.state === 'missing') return 'the Docker engine does not answer';
    if (this.#slotsUsed >= this.#caps.slots) return 'no free slot';
    if (!this.#languages.offers(lang)) return `language ${lang} not offered`;
    return null;
  }

  #sessionRefusal(lang: string): SessionEnd | null {
    const rejected = (message: string): SessionEnd => ({ code: 'runner_rejected', message });
    const { state } = this.#state;
    if (state !== 'running') return rejected(`The runner is ${state}: it opens no session`);
    if (this.#engine.state === 'missing') return rejected('The Docker engine of this runner does not answer');
    if (this.#slotsUsed >= this.#caps.slots) {
      return rejected(`The runner has no free slot (${this.#caps.slots} in use)`);
    }
    if (!this.#languages.offers(lang)) {
      return { code: 'unknown_language', message: `The language ${lang} is not offered by this runner` };
    }
    return null;
  }

  #onOffer(job: OfferedJob): void {
    if (this.#jobs.reoffered(job.id)) return;
    if (job.session_id !== null) {
      this.#onSessionOffer(job);
      return;
    }
    const refusal = this.#refusal(job.lang);
    if (refusal !== null) {
      this.#connection.send({ type: 'reject', job_id: job.id, reason: refusal });
      return;
    }
    this.#jobs.run(job, null, this.#pool);
  }

  /** An execution in an open session: its sandbox, no slot of its own; none while paused. */
  #onSessionOffer(job: OfferedJob): void {
    const session = this.#state.state === 'paused' ? 'paused' : this.#sessions.claim(job);
    if (typeof session === 'string') {
      this.#connection.send({ type: 'reject', job_id: job.id, reason: session });
      return;
    }
    this.#jobs.run(job, job.session_id, session);
  }
}
