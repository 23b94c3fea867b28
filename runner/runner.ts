// The runner: a warm sandbox pool and a gateway connection, joined by the job protocol, with what
// its owner controls at run time (pause, finish-then-pause, resume, caps, languages added as their
// images are built) and typed events for its embedder. Built by createRunner() (create-runner.ts).
// A little past ~350 lines: it is the library's public surface (every method an embedder calls,
// each a few lines over the parts in held-jobs, runner-frames, owner-controls, engine-watch).
import { createLogger, type Logger, type RunnerLanguage } from '../shared/index.js';
import type { GatewayConnection } from './connection/gateway-connection.js';
import { DockerSandbox } from './docker/docker-sandbox.js';
import { EngineWatch } from './engine-watch.js';
import { linkGateway } from './gateway-link.js';
import { HeldJobs } from './held-jobs.js';
import { defaultRunnerName, type RunnerIdentity } from './identity/runner-identity.js';
import type { MetricsServer } from './metrics/metrics-server.js';
import type { RunnerMetrics } from './metrics/runner-metrics.js';
import { OwnerControls, type RunnerCaps } from './owner-controls.js';
import { SandboxPool } from './pool/sandbox-pool.js';
import type { RunnerEvents } from './runner-events.js';
import { RunnerFrames } from './runner-frames.js';
import { languagesNamed, RunnerLanguages } from './runner-languages.js';
import { checkSlots, DEFAULT_SLOTS, type EngineDriver, type RunnerOptions } from './runner-options.js';
import { RUNNER_VERSION, RunnerPresence } from './runner-presence.js';
import { type RunnerState, RunnerStateMachine } from './runner-state.js';
import { RunnerSessions } from './sessions/runner-sessions.js';
import { TypedEmitter } from './typed-emitter.js';

export type { RunnerCaps } from './owner-controls.js';
export { RUNNER_VERSION } from './runner-presence.js';
export type { RunnerState } from './runner-state.js';

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
  readonly #presence: RunnerPresence;
  readonly #connection: GatewayConnection;
  readonly #controls: OwnerControls;
  #pool: SandboxPool;
  #started: Promise<this> | null = null;
  #closing: Promise<void> | null = null;
  #drained: Promise<void> | null = null;
  /** The metrics port once start() opened it (RunnerOptions.metricsPort). */
  #metrics: Promise<{ metrics: RunnerMetrics; server: MetricsServer } | null> | null = null;
  #metricsUrl: string | null = null;

  /** Use createRunner(), which claims the identity first. */
  constructor(options: RunnerOptions, identity: RunnerIdentity) {
    super((err, event) => {
      // The embedder's bug: said loudly, but the runner's own bookkeeping goes on.
      runnerLog(options, identity).error({ event, err }, 'a runner event listener threw');
    });
    this.#options = options;
    this.#identity = identity;
    this.id = identity.id;
    this.dataDir = identity.dataDir;
    this.name = options.name ?? defaultRunnerName(identity.id);
    this.#log = runnerLog(options, identity);
    this.#driver =
      options.driver ??
      new DockerSandbox(options.docker, {
        onOperation: (operation) => this.emit('container.operation', operation),
      });
    this.#state = new RunnerStateMachine((change) => {
      this.#log.info({ ...change }, 'runner state');
      this.emit('state', change);
    });
    this.#controls = new OwnerControls({
      state: this.#state,
      caps: {
        slots: checkSlots(options.slots ?? DEFAULT_SLOTS),
        cpus: options.cpus ?? 1,
        memory: options.memory ?? null,
      },
      pausedAtStart: options.paused ? 'started paused' : null,
      pool: () => this.#pool,
      running: () => this.#jobs.runningIds(),
      capacityChanged: () => this.#presence.capacityChanged(),
      log: this.#log,
    });
    this.#languages = new RunnerLanguages(options.building);
    this.#pool = this.#newPool();
    this.#engine = new EngineWatch({
      ping: () => this.#driver.ping(),
      missing: (message, retryMs) => {
        this.#log.error({ error: message, retry_ms: retryMs }, 'the Docker engine does not answer');
        this.emit('engine.missing', { message, retry_ms: retryMs });
      },
      found: () => {
        this.#log.info('the Docker engine answers again');
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
    this.#presence = new RunnerPresence({
      token: options.token,
      name: this.name,
      labels: options.labels ?? [],
      state: () => this.#state.state,
      slots: () => this.#controls.caps.slots,
      languages: () => this.#languages.frame(),
      held: () => this.#jobs.helloHeld(),
      send: (frame) => this.#connection.send(frame),
    });
    const frames = new RunnerFrames({
      state: () => this.#state.state,
      engineMissing: () => this.#engine.state === 'missing',
      slots: () => this.#controls.caps.slots,
      offers: (lang) => this.#languages.offers(lang),
      jobs: this.#jobs,
      sessions: this.#sessions,
      pool: () => this.#pool,
      send: (frame) => this.#connection.send(frame),
      log: this.#log,
    });
    this.#connection = linkGateway({
      options,
      name: this.name,
      log: this.#log,
      presence: this.#presence,
      frames,
      jobs: this.#jobs,
      sessions: this.#sessions,
      emit: (event, payload) => this.emit(event, payload),
      welcomed: () => this.#drainStep(),
    });
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
    return this.#controls.caps.slots;
  }

  /** Slots taken now: pooled jobs, and one per open session. */
  get slotsUsed(): number {
    return this.#jobs.pooled + this.#sessions.slots;
  }

  /** Where the metrics port serves (http://host:port/metrics) once start() opened it, else null. */
  get metricsUrl(): string | null {
    return this.#metricsUrl;
  }

  get caps(): Readonly<RunnerCaps> {
    return this.#controls.caps;
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
   * resume()). Before start() it makes the runner start paused. False when the runner cannot
   * pause (draining, stopping, already paused: then only the reason changes).
   */
  pause(reason = 'paused by its owner'): boolean {
    return this.#controls.pause(reason);
  }

  /** pause(), and resolves once the jobs running now have ended (their results sent or kept). */
  finishThenPause(reason = 'paused by its owner once its jobs end'): Promise<void> {
    return this.#controls.finishThenPause(reason);
  }

  /**
   * Suspend now: pause(), and hand the jobs running in the pool back to the gateway (their
   * sandboxes are killed, and the gateway queues them again without counting the attempt), so the
   * owner gets the machine back at once and no job is lost. A session's execution finishes (its
   * sandbox is the session's). Resolves once they have all ended.
   */
  suspend(reason = 'suspended by its owner'): Promise<void> {
    const ended = this.#controls.finishThenPause(reason);
    this.#jobs.handBack(reason);
    return ended;
  }

  /** Takes jobs again (`capacity` with paused false). False when the runner was not paused. */
  resume(reason = 'running'): boolean {
    return this.#controls.resume(reason);
  }

  /**
   * Changes the owner's caps for the next job: slots (the gateway is told with `capacity`), CPUs
   * of sandboxes from now on, a memory cap on every job (clamped to the runner's maximum; null
   * lifts it). Throws RangeError, changing nothing, for a value no sandbox could have.
   */
  setCaps(caps: { slots?: number; cpus?: number; memory?: number | null }): void {
    this.#controls.setCaps(caps);
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
      this.#log.info({ language: language.name, version: language.version }, 'language added');
      this.#announceLanguages();
      return language;
    } catch (err) {
      this.languageFailed(spec.name, (err as Error).message);
      throw err;
    }
  }

  /** A language's image could not be built: the gateway stops keeping its jobs waiting. */
  languageFailed(name: string, why: string): void {
    this.#log.warn({ language: name, error: why }, 'language unavailable');
    if (this.#languages.failed(name)) this.#announceLanguages();
  }

  /**
   * Drains: takes no more jobs (tells the gateway, rejects offers), finishes the held ones and
   * reports their results (heartbeats go on, and a lost gateway is waited for), then closes.
   * Resolves once stopped. A close() meanwhile cuts it short. Idempotent.
   */
  drain(): Promise<void> {
    if (this.#state.moveTo('draining', 'finishing its jobs, then stopping')) {
      this.#log.info({ held: this.#jobs.running }, 'draining: finishing held jobs, taking no new ones');
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
      const served = await this.#metrics?.catch(() => null);
      served?.metrics.close();
      await served?.server.close();
      this.#metricsUrl = null;
      this.#state.moveTo('stopped', 'stopped');
      this.#controls.stopped();
      this.emit('stopped', undefined);
    })();
    return this.#closing;
  }

  async #start(): Promise<this> {
    this.#metrics = this.#serveMetrics();
    await this.#metrics;
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
    this.#log.info(
      {
        languages: this.#languages.offered.map((l) => `${l.name} ${l.version}`),
        building: this.#languages.building,
      },
      'runner languages',
    );
    const { state, reason } = this.#controls.startState;
    this.#state.moveTo(state, reason);
    this.#connection.start();
    return this;
  }

  /**
   * The metrics port, when the options ask for one: from before the engine answers (an operator
   * sees a runner waiting for Docker) until close(). prom-client loads only then: embedders
   * without it (the desktop app) never pay for it.
   */
  async #serveMetrics(): Promise<{ metrics: RunnerMetrics; server: MetricsServer } | null> {
    const port = this.#options.metricsPort;
    if (port === undefined) return null;
    const [{ RunnerMetrics }, { MetricsServer }] = await Promise.all([
      import('./metrics/runner-metrics.js'),
      import('./metrics/metrics-server.js'),
    ]);
    const metrics = new RunnerMetrics({
      events: this,
      name: this.name,
      version: RUNNER_VERSION,
      stock: () => this.#pool.stockByLanguage(),
      slots: () => ({ total: this.slots, used: this.slotsUsed }),
    });
    let server: MetricsServer;
    try {
      server = await MetricsServer.listen(this.#options.metricsHost ?? '127.0.0.1', port, metrics);
    } catch (err) {
      metrics.close();
      throw err;
    }
    this.#metricsUrl = server.url;
    // Operators (and tests, for port 0) read the address here.
    this.#log.info({ url: server.url }, 'metrics listening');
    return { metrics, server };
  }

  #newPool(): SandboxPool {
    const caps = this.#controls.caps;
    const pool = new SandboxPool({
      runnerName: this.name,
      runnerId: this.id,
      docker: this.#driver,
      log: this.#log,
      ...(this.#options.languages ? { languages: languagesNamed(this.#options.languages) } : {}),
      minWarm: this.#options.minWarm ?? 1,
      maxWarm: this.#options.maxWarm ?? Math.max(2, caps.slots),
      cpus: caps.cpus,
    });
    if (caps.memory !== null) pool.setCaps({ memoryBytes: caps.memory });
    return pool;
  }

  #announceLanguages(): void {
    this.#presence.languagesChanged();
    this.emit('languages', { languages: this.#languages.offered, building: this.#languages.building });
  }

  #jobsChanged(): void {
    this.#controls.jobsChanged();
    this.#drainStep();
  }

  /** A draining runner stops once it holds nothing and every result has been handed over. */
  #drainStep(): void {
    if (this.#state.state !== 'draining' || this.#jobs.running > 0 || this.#jobs.undelivered > 0) return;
    if (this.#sessions.size > 0) return;
    this.#log.info('drained: every held job is finished and reported');
    void this.close();
  }
}

/** The runner's logger: every line carries its name (`runner_id`, as the gateway knows it). */
function runnerLog(options: RunnerOptions, identity: RunnerIdentity): Logger {
  const log = options.log ?? createLogger({ level: 'info' });
  return log.child({ runner_id: options.name ?? defaultRunnerName(identity.id) });
}
