// A warm pool of sandbox containers per language. Each container is created and started ahead of
// demand, with its first exec already started (PreparedExec: the job skips docker's ~70 ms exec
// set-up); it serves exactly one job (or one session: pool-session.ts) and is removed off the
// job's critical path (ContainerReaper: when the pool is quiet if it is idle). The pool refills in
// the background, at most `createConcurrency` creations at a time, jobs waiting first.
import { CodeexecError } from '../../shared/errors.js';
import type { RunResult } from '../../shared/job.js';
import { LANGUAGES, type LanguageSpec } from '../../shared/languages.js';
import type { Limits, LimitsInput } from '../../shared/limits.js';
import { type Logger, silentLogger } from '../../shared/log.js';
import type { RunnerLanguage } from '../../shared/runner-protocol.js';
import { DockerSandbox, ExecNotStartedError, type SandboxContainerSpec } from '../docker/docker-sandbox.js';
import type { JobIo, JobSpec, OutputChunk } from '../execution/execute-job.js';
import { cancelledBeforeStart, executeJob, sandboxFailure } from '../execution/execute-job.js';
import type { StageSandbox } from '../execution/run-stage.js';
import { containerUlimits } from '../execution/stage-command.js';
import { PoolSession } from '../sessions/pool-session.js';
import { ContainerReaper } from './container-reaper.js';
import { DeathWatch } from './death-watch.js';
import { type LanguageLane, laneToFill, type Waiter } from './language-lane.js';
import { lostAwareContainer } from './lost-container.js';
import { PoolActivity } from './pool-activity.js';
import { type CapsChange, PoolCaps } from './pool-caps.js';
import { describe, PoolLanes } from './pool-lanes.js';
import type { PoolDriver, PoolOptions } from './pool-options.js';
import { PooledContainer } from './pooled-container.js';

export type { PoolDriver, PoolOptions } from './pool-options.js';

/** The runner's display name, for people. */
export const RUNNER_LABEL = 'org.codeexec.runner';
/** The runner's identity: what orphan cleanup and the death watch go by. */
export const RUNNER_ID_LABEL = 'org.codeexec.runner-id';
export const LANGUAGE_LABEL = 'org.codeexec.language';

type PoolPhase = 'new' | 'starting' | 'running' | 'closing' | 'closed';

const MiB = 1024 * 1024;
/** Tries of a job whose exec never started: a few warm containers may die at once. */
const ATTEMPTS = 3;

export class SandboxPool {
  private readonly runnerName: string;
  private readonly runnerId: string;
  private readonly specs: readonly LanguageSpec[];
  private readonly minWarm: number;
  private readonly maxWarm: number;
  private readonly caps: PoolCaps;
  private readonly docker: PoolDriver;
  private readonly createConcurrency: number;
  private readonly prepareExecs: boolean;
  private readonly compileWallMs: number;
  private readonly workspaceBytes: number;
  private readonly tmpBytes: number;
  private readonly log: Logger;

  private phase: PoolPhase = 'new';
  private readonly lanes = new PoolLanes();
  /** Every container made and not yet gone, by docker id once it has one. */
  private readonly containers = new Set<PooledContainer>();
  private readonly byId = new Map<string, PooledContainer>();
  private readonly creations = new Set<Promise<void>>();
  private readonly reaper: ContainerReaper;
  private creatingTotal = 0;
  /** Jobs holding a container right now. */
  private active = 0;
  private readonly activity: PoolActivity;
  private settledWaiters: (() => void)[] = [];
  private readonly deaths: DeathWatch;
  private closed: Promise<void> | null = null;

  constructor(options: PoolOptions) {
    this.runnerName = options.runnerName;
    this.runnerId = options.runnerId ?? options.runnerName;
    this.specs = options.languages ?? LANGUAGES;
    this.minWarm = options.minWarm ?? 1;
    this.maxWarm = Math.max(options.maxWarm ?? 2, this.minWarm);
    this.caps = new PoolCaps({ cpus: options.cpus, maxLimits: options.maxLimits });
    this.docker = options.docker ?? new DockerSandbox();
    this.createConcurrency = Math.max(1, options.createConcurrency ?? 2);
    this.prepareExecs = (options.prepareExecs ?? true) && this.docker.prepareExec !== undefined;
    this.activity = new PoolActivity({
      quietMs: options.quietMs ?? 50,
      burstMs: options.burstMs ?? 1000,
      onIdle: () => {
        this.pump();
        this.reaper.drain();
      },
    });
    this.compileWallMs = options.compileWallMs ?? 30_000;
    this.workspaceBytes = options.workspaceBytes ?? 64 * MiB;
    this.tmpBytes = options.tmpBytes ?? 256 * MiB;
    this.log = options.log ?? silentLogger;
    this.deaths = new DeathWatch(
      this.docker,
      [RUNNER_ID_LABEL, this.runnerId],
      (id) => this.onDeath(id),
      this.log,
    );
    this.reaper = new ContainerReaper({
      docker: this.docker,
      maxDeferred: options.maxDeferred ?? this.maxWarm,
      concurrency: this.createConcurrency,
      deferring: () => this.deferring,
      onGone: (container) => this.forget(container),
      log: this.log,
    });
  }

  /** Languages that cannot run here, with why (image missing, version command failed). */
  get unavailable(): ReadonlyMap<string, string> {
    return this.lanes.unavailable;
  }

  /** Languages whose image was missing when last looked for (at start, or by addLanguage). */
  get missingImages(): string[] {
    return this.lanes.missingImages;
  }

  /** CPUs per container and the memory cap, for containers created and jobs started from now on. */
  setCaps(change: CapsChange): void {
    this.caps.set(change);
  }

  /**
   * Resolves once nothing is being created or removed and every language holds its warm target
   * (or is backing off after failures). Benchmarks and tests wait for it instead of sleeping.
   */
  settled(): Promise<void> {
    if (this.isSettled()) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  /** Remove orphans, detect versions (one container per language), begin warm-up (not awaited). */
  async start(): Promise<RunnerLanguage[]> {
    if (this.phase !== 'new') throw new Error('SandboxPool.start() may be called once, before close()');
    this.phase = 'starting';
    try {
      await this.removeOrphans();
      await this.deaths.start();
      for (const spec of this.specs) {
        if (await this.docker.imageExists(spec.image)) this.lanes.add(spec);
        else this.lanes.imageMissing(spec);
      }
    } catch (err) {
      throw sandboxFailure(err, 'The Docker engine did not answer');
    }
    if (this.phase !== 'starting') return [];
    this.pump();
    await Promise.all([...this.lanes].map((lane) => lane.probed));
    if (this.phase !== 'starting') return [];
    this.phase = 'running';
    this.maybeQuiet();
    this.pump();
    return this.lanes.offered();
  }

  /**
   * Start a lane for `spec` once the pool runs (its image was built meanwhile): detect its version
   * (which proves the image runs) and keep it warm. Rejects when the image is missing or does not
   * run; a language that already runs here resolves at once.
   */
  async addLanguage(spec: LanguageSpec): Promise<RunnerLanguage> {
    if (this.phase !== 'running')
      throw new CodeexecError('sandbox_failed', 'The sandbox pool is not running');
    let lane = this.lanes.get(spec.name);
    if (lane === undefined || lane.unavailable !== null) {
      if (!(await this.docker.imageExists(spec.image))) {
        this.lanes.imageMissing(spec);
        throw new Error(`image ${spec.image} not found`);
      }
      if (this.phase !== 'running') throw new CodeexecError('sandbox_failed', 'The sandbox pool is closing');
      lane = this.lanes.add(spec);
      this.pump();
    }
    await lane.probed;
    const [offered] = lane.unavailable === null ? describe(lane) : [];
    if (offered === undefined) throw new Error(lane.unavailable ?? `${spec.name}: no version was detected`);
    return offered;
  }

  /**
   * Run one job in a fresh container. Rejects only with CodeexecError (sandbox_failed,
   * unknown_language). `onStage` hears when a compiled language's run stage starts.
   */
  async execute(
    job: JobSpec,
    onOutput: (chunk: OutputChunk) => void,
    signal?: AbortSignal,
    onStage?: JobIo['onStage'],
  ): Promise<RunResult> {
    const lane = this.laneFor(job.lang);
    const limits = this.clamp(job.limits);
    // Retries only when the exec provably never ran the program (docker refused it, or the
    // container died while warm and the pool had not heard yet): each try uses another container.
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) return cancelledBeforeStart();
      const container = await this.acquire(lane, signal);
      if (container === null) return cancelledBeforeStart();
      try {
        await this.fit(container, limits);
        return await this.runIn(container, lane, job, limits, { onOutput, onStage, signal });
      } catch (err) {
        if (signal?.aborted && !container.closedUnderJob) return cancelledBeforeStart();
        const retry = err instanceof ExecNotStartedError && attempt < ATTEMPTS && this.phase === 'running';
        if (!retry) throw sandboxFailure(err, 'The sandbox failed to run the job');
        this.log('warn', 'exec did not start; retrying the job in another container', {
          job: job.id,
          error: (err as Error).message,
        });
      } finally {
        this.release(lane, container);
      }
    }
  }

  /**
   * Lease one container of `lang` (the warm one if any) to a session until it closes or the
   * container is lost. Rejects with CodeexecError: unknown_language, sandbox_failed (also when
   * `signal` aborts the wait for a container).
   */
  async openSession(lang: string, limits: LimitsInput | null, signal?: AbortSignal): Promise<PoolSession> {
    const lane = this.laneFor(lang);
    const sessionLimits = this.clamp(limits);
    const container = await this.acquire(lane, signal);
    if (container === null)
      throw new CodeexecError('sandbox_failed', 'The session was cancelled while opening');
    return PoolSession.open({
      container,
      language: lane.spec,
      limits: sessionLimits,
      docker: this.docker,
      log: this.log,
      clamp: (requested) => this.clamp(requested),
      fit: (wanted) => this.fit(container, wanted),
      run: (job, wanted, io, sandbox) => this.runIn(container, lane, job, wanted, io, sandbox),
      release: () => this.release(lane, container),
    });
  }

  /** Stop refilling; kill and remove every container this pool made, and wait for it. Idempotent. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    const started = this.phase !== 'new';
    this.phase = 'closing';
    this.deaths.close();
    this.activity.close();
    const closing = new CodeexecError('sandbox_failed', 'The sandbox pool is closing');
    for (const lane of this.lanes) {
      clearTimeout(lane.retryTimer);
      for (const waiter of lane.waiters.splice(0)) waiter.reject(closing);
      lane.settleProbe();
    }
    for (const container of this.containers) {
      if (container.state === 'leased') {
        container.closedUnderJob = true;
        container.onLost?.('the sandbox pool is closing');
      }
      // Creations in flight remove what they made once they see the phase (place, creationFailed).
      if (container.state !== 'creating') this.reaper.remove(container);
    }
    await Promise.allSettled([...this.creations]);
    await this.reaper.close();
    // Safety net: a container whose create reply was lost still carries our label.
    if (started)
      await this.removeOrphans().catch((err) => {
        this.log('warn', 'could not sweep containers at close', { error: (err as Error).message });
      });
    this.phase = 'closed';
    this.checkSettled();
  }

  private async removeOrphans(): Promise<void> {
    const ids = await this.docker.listByLabel(RUNNER_ID_LABEL, this.runnerId);
    await Promise.all(ids.map((id) => this.docker.remove(id)));
  }

  private onDeath(id: string): void {
    const container = this.byId.get(id);
    container?.onLost?.('its container died');
    if (container !== undefined) this.dropWarm(container, 'died');
  }

  private laneFor(lang: string): LanguageLane {
    if (this.phase !== 'running')
      throw new CodeexecError('sandbox_failed', 'The sandbox pool is not running');
    const lane = this.lanes.serving(lang);
    if (lane === undefined) {
      throw new CodeexecError('unknown_language', `The language ${lang} is not available on this runner`);
    }
    return lane;
  }

  /** Never trust the gateway's numbers: clamp to this runner's own maximums. */
  private clamp(requested: LimitsInput | null | undefined): Limits {
    return this.caps.clamp(requested);
  }

  /** One job in a leased container: the one place a job's context is built (pooled jobs and sessions). */
  private async runIn(
    container: PooledContainer,
    lane: LanguageLane,
    job: JobSpec,
    limits: Limits,
    io: JobIo,
    sandbox?: StageSandbox,
  ): Promise<RunResult> {
    const result = await executeJob(job, {
      ...io,
      docker: container.jobDriver(this.docker),
      containerId: container.id ?? '',
      language: lane.spec,
      limits,
      maxLimits: this.caps.maxLimits,
      cpus: container.cpus,
      compileWallMs: this.compileWallMs,
      sandbox: sandbox ?? lostAwareContainer(this.docker, container.id ?? ''),
    });
    if (container.closedUnderJob) throw new Error('The sandbox pool closed while the job ran');
    return result;
  }

  /** A warm container that died or whose prepared exec ended: remove and replace it. */
  private dropWarm(container: PooledContainer, why: string): void {
    if (container.state !== 'warm') return; // leased ones are the job's business; others are going
    const warm = this.lanes.get(container.language)?.warm;
    const index = warm?.indexOf(container) ?? -1;
    if (index >= 0) warm?.splice(index, 1);
    this.log('warn', `a warm container ${why}; replacing it`, {
      language: container.language,
      container: container.id,
    });
    this.reaper.remove(container);
    this.pump();
  }

  private acquire(lane: LanguageLane, signal?: AbortSignal): Promise<PooledContainer | null> {
    // The last check before handing out: a container whose prepared exec ended is not used.
    for (let warm = lane.warm.shift(); warm !== undefined; warm = lane.warm.shift()) {
      if (!warm.healthy) {
        this.dropWarm(warm, 'is no longer healthy');
        continue;
      }
      this.lease(lane, warm);
      this.pump();
      return Promise.resolve(warm);
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        lane.waiters = lane.waiters.filter((w) => w !== waiter);
        this.maybeQuiet();
        resolve(null);
      };
      const waiter: Waiter = {
        since: performance.now(),
        resolve: (container) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(container);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      lane.waiters.push(waiter);
      this.activity.busy();
      this.pump();
    });
  }

  private lease(lane: LanguageLane, container: PooledContainer): void {
    container.to('leased');
    lane.leased++;
    this.active++;
    this.activity.busy();
  }

  /** The job is done with the container: it is retired (never used again) and the pool refills. */
  private release(lane: LanguageLane, container: PooledContainer): void {
    lane.leased--;
    this.active--;
    if (container.state === 'leased') {
      container.to('spent');
      this.reaper.retire(container);
    }
    this.maybeQuiet();
    this.pump();
  }

  /** Some job waits for a container to be created. */
  private get waiting(): boolean {
    return this.lanes.waiting;
  }

  /**
   * Spent containers wait for idle time only during a burst, and not while jobs wait for
   * creations: saturated or under sustained load, deferring only moves the same work to the end.
   */
  private get deferring(): boolean {
    return this.activity.inBurst && !this.waiting;
  }

  /** When no job runs or waits any more, start counting towards idle. */
  private maybeQuiet(): void {
    if (this.active === 0 && !this.waiting && this.phase === 'running') this.activity.quiet();
  }

  /** Give the container the job's memory and pids limits, and the CPU cap, where they differ. */
  private async fit(container: PooledContainer, limits: Limits): Promise<void> {
    const { cpus } = this.caps;
    const same = container.memoryBytes === limits.memory_bytes && container.pids === limits.pids;
    if (same && container.cpus === cpus) return;
    await this.docker.update(container.id ?? '', {
      memoryBytes: limits.memory_bytes,
      pids: limits.pids,
      ...(container.cpus === cpus ? {} : { cpus }),
    });
    container.memoryBytes = limits.memory_bytes;
    container.pids = limits.pids;
    container.cpus = cpus;
  }

  /** Start creations: one per waiting job, then version probes and refills while there is capacity. */
  private pump(): void {
    while (this.phase === 'starting' || this.phase === 'running') {
      const lane = this.nextLane(this.creatingTotal < this.createConcurrency);
      if (lane === null) break;
      this.create(lane);
    }
    this.checkSettled();
  }

  private isSettled(): boolean {
    if (this.phase === 'closed') return true;
    if (this.phase !== 'running' || this.creatingTotal > 0 || !this.reaper.idle) return false;
    const now = performance.now();
    return [...this.lanes].every(
      (lane) =>
        lane.unavailable !== null ||
        lane.retryAt > now ||
        lane.deficit(this.minWarm, this.maxWarm, true) <= 0,
    );
  }

  private checkSettled(): void {
    if (this.settledWaiters.length === 0 || !this.isSettled()) return;
    for (const resolve of this.settledWaiters.splice(0)) resolve();
  }

  private nextLane(background: boolean): LanguageLane | null {
    return laneToFill(this.lanes, {
      minWarm: this.minWarm,
      maxWarm: this.maxWarm,
      idle: this.activity.idle,
      background,
      refill: this.phase === 'running',
      now: performance.now(),
    });
  }

  private create(lane: LanguageLane): void {
    const probe = lane.needsProbe;
    lane.needsProbe = false;
    const container = new PooledContainer(lane.spec.name, { ...this.caps.baseLimits, cpus: this.caps.cpus });
    this.containers.add(container);
    lane.creating++;
    this.creatingTotal++;
    const task: Promise<void> = this.build(lane, container, probe)
      .then(
        () => this.place(lane, container),
        (err) => this.creationFailed(lane, container, err, probe),
      )
      .finally(() => {
        lane.creating--;
        this.creatingTotal--;
        this.creations.delete(task);
        if (probe) lane.settleProbe();
        this.pump();
      });
    this.creations.add(task);
  }

  private async build(lane: LanguageLane, container: PooledContainer, probe: boolean): Promise<void> {
    const id = await this.docker.createAndStart(this.containerSpec(lane.spec));
    container.id = id;
    this.byId.set(id, container);
    await this.prepare(container);
    if (!probe) return;
    // Through the prepared exec when there is one: that proves the launcher works in this image.
    lane.version = await lane.detectVersion((request) => container.exec(this.docker, request));
    await this.prepare(container);
  }

  /** Start the container's first exec now, so its job does not wait for docker to set one up. */
  private async prepare(container: PooledContainer): Promise<void> {
    if (!this.prepareExecs || this.docker.prepareExec === undefined || container.id === null) return;
    container.prepared = await this.docker.prepareExec(container.id, () => {
      this.dropWarm(container, 'lost its prepared exec');
    });
  }

  private place(lane: LanguageLane, container: PooledContainer): void {
    lane.succeeded();
    if (this.phase !== 'starting' && this.phase !== 'running') {
      this.reaper.remove(container);
      return;
    }
    const waiter = lane.waiters.shift();
    if (waiter === undefined) {
      container.to('warm');
      lane.warm.push(container);
      return;
    }
    this.lease(lane, container);
    waiter.resolve(container);
  }

  private creationFailed(lane: LanguageLane, container: PooledContainer, err: unknown, probe: boolean): void {
    const message = (err as Error)?.message ?? String(err);
    this.reaper.remove(container);
    if (this.phase !== 'starting' && this.phase !== 'running') return;
    if (probe) {
      lane.unavailable = `could not run ${lane.spec.image}: ${message}`;
      const failure = new CodeexecError(
        'sandbox_failed',
        `The ${lane.spec.name} sandbox is unavailable: ${message}`,
      );
      for (const waiter of lane.waiters.splice(0)) waiter.reject(failure);
      this.log('error', 'language unavailable', { language: lane.spec.name, error: message });
      return;
    }
    const delay = lane.failed(performance.now());
    clearTimeout(lane.retryTimer);
    lane.retryTimer = setTimeout(() => this.pump(), delay);
    this.log('warn', 'creating a sandbox failed', {
      language: lane.spec.name,
      retry_ms: delay,
      error: message,
    });
    // A job waiting for this very creation gets the error rather than waiting for the next one.
    lane.waiters
      .shift()
      ?.reject(
        new CodeexecError('sandbox_failed', `Could not create a ${lane.spec.name} sandbox: ${message}`),
      );
  }

  private forget(container: PooledContainer): void {
    container.to('gone');
    this.containers.delete(container);
    if (container.id !== null) this.byId.delete(container.id);
    this.checkSettled();
  }

  /** The hardened container every job of `spec` runs in (the benchmark's baselines use it too). */
  containerSpec(spec: LanguageSpec): SandboxContainerSpec {
    return {
      image: spec.image,
      labels: {
        [RUNNER_LABEL]: this.runnerName,
        [RUNNER_ID_LABEL]: this.runnerId,
        [LANGUAGE_LABEL]: spec.name,
      },
      ...this.caps.baseLimits,
      cpus: this.caps.cpus,
      ulimits: containerUlimits(this.caps.maxLimits),
      workspaceBytes: this.workspaceBytes,
      tmpBytes: this.tmpBytes,
      shmBytes: 64 * MiB,
    };
  }
}
