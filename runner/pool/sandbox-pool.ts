// A warm pool of sandbox containers per language, and the jobs run in them. Each container is
// created and started ahead of demand, with its first exec already started (PreparedExec: the job
// skips docker's ~70 ms exec set-up); it serves exactly one job (or one session: pool-session.ts)
// and is removed off the job's critical path. Making, handing out and retiring containers is the
// stock's (container-stock.ts); here: start (orphans, images, versions), languages added later,
// the owner's caps, and each job's limits, retries and result.
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
import { HELPER_EXEC_MS } from '../sessions/session-stopper.js';
import { ContainerStock, type LanguageStock } from './container-stock.js';
import { DeathWatch } from './death-watch.js';
import type { LanguageLane } from './language-lane.js';
import { lostAwareContainer } from './lost-container.js';
import { type CapsChange, PoolCaps } from './pool-caps.js';
import { describe, type PoolLanes } from './pool-lanes.js';
import type { PoolDriver, PoolOptions } from './pool-options.js';
import type { PooledContainer } from './pooled-container.js';

export type { LanguageStock } from './container-stock.js';
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
  private readonly caps: PoolCaps;
  private readonly docker: PoolDriver;
  private readonly compileWallMs: number;
  private readonly sessionHelperMs: number;
  private readonly workspaceBytes: number;
  private readonly tmpBytes: number;
  private readonly log: Logger;

  private phase: PoolPhase = 'new';
  private readonly stock: ContainerStock;
  private readonly lanes: PoolLanes;
  private readonly deaths: DeathWatch;
  private closed: Promise<void> | null = null;

  constructor(options: PoolOptions) {
    this.runnerName = options.runnerName;
    this.runnerId = options.runnerId ?? options.runnerName;
    this.specs = options.languages ?? LANGUAGES;
    this.minWarm = options.minWarm ?? 1;
    this.caps = new PoolCaps({ cpus: options.cpus, maxLimits: options.maxLimits });
    this.docker = options.docker ?? new DockerSandbox();
    const maxWarm = Math.max(options.maxWarm ?? 2, this.minWarm);
    this.stock = new ContainerStock({
      docker: this.docker,
      minWarm: this.minWarm,
      maxWarm,
      createConcurrency: Math.max(1, options.createConcurrency ?? 2),
      prepareExecs: (options.prepareExecs ?? true) && this.docker.prepareExec !== undefined,
      maxDeferred: options.maxDeferred ?? maxWarm,
      quietMs: options.quietMs ?? 50,
      burstMs: options.burstMs ?? 1000,
      log: options.log ?? silentLogger,
      spec: (language) => this.containerSpec(language),
      initial: () => ({ ...this.caps.baseLimits, cpus: this.caps.cpus }),
    });
    this.lanes = this.stock.lanes;
    this.compileWallMs = options.compileWallMs ?? 30_000;
    this.sessionHelperMs = options.sessionHelperMs ?? HELPER_EXEC_MS;
    this.workspaceBytes = options.workspaceBytes ?? 64 * MiB;
    this.tmpBytes = options.tmpBytes ?? 256 * MiB;
    this.log = options.log ?? silentLogger;
    this.deaths = new DeathWatch(
      this.docker,
      [RUNNER_ID_LABEL, this.runnerId],
      (id) => this.stock.onDeath(id),
      this.log,
    );
  }

  /** Languages that cannot run here, with why (image missing, version command failed). */
  get unavailable(): ReadonlyMap<string, string> {
    return this.lanes.unavailable;
  }

  /** Languages whose image was missing when last looked for (at start, or by addLanguage). */
  get missingImages(): string[] {
    return this.lanes.missingImages;
  }

  /** Each language's containers by state (starting, warm, in use, removing), for metrics. */
  stockByLanguage(): LanguageStock[] {
    return this.stock.byLanguage();
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
    return this.stock.settled();
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
    this.stock.pump();
    await Promise.all([...this.lanes].map((lane) => lane.probed));
    if (this.phase !== 'starting') return [];
    this.phase = 'running';
    this.stock.run();
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
      lane = this.stock.addLane(spec);
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
      const container = await this.stock.acquire(lane, signal);
      if (container === null) return cancelledBeforeStart();
      try {
        await this.fit(container, limits);
        return await this.runIn(container, lane, job, limits, { onOutput, onStage, signal });
      } catch (err) {
        if (signal?.aborted && !container.closedUnderJob) return cancelledBeforeStart();
        const retry = err instanceof ExecNotStartedError && attempt < ATTEMPTS && this.phase === 'running';
        if (!retry) throw sandboxFailure(err, 'The sandbox failed to run the job');
        this.log.warn({ job_id: job.id, err }, 'exec did not start; retrying the job in another container');
      } finally {
        this.stock.release(lane, container);
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
    const container = await this.stock.acquire(lane, signal);
    if (container === null)
      throw new CodeexecError('sandbox_failed', 'The session was cancelled while opening');
    return PoolSession.open({
      container,
      language: lane.spec,
      limits: sessionLimits,
      docker: this.docker,
      log: this.log,
      helperMs: this.sessionHelperMs,
      clamp: (requested) => this.clamp(requested),
      fit: (wanted) => this.fit(container, wanted),
      run: (job, wanted, io, sandbox) => this.runIn(container, lane, job, wanted, io, sandbox),
      release: () => this.stock.release(lane, container),
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
    await this.stock.close();
    // Safety net: a container whose create reply was lost still carries our label.
    if (started)
      await this.removeOrphans().catch((err) => {
        this.log.warn({ err }, 'could not sweep containers at close');
      });
    this.phase = 'closed';
    this.stock.markClosed();
  }

  private async removeOrphans(): Promise<void> {
    const ids = await this.docker.listByLabel(RUNNER_ID_LABEL, this.runnerId);
    await Promise.all(ids.map((id) => this.docker.remove(id)));
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
