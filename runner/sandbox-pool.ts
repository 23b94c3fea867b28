// A warm pool of sandbox containers per language. Each container is created and started ahead of
// demand, serves exactly one job, and is destroyed off the job's critical path; the pool refills
// in the background, at most `createConcurrency` creations at a time, jobs waiting first.
import { CodeexecError } from '../shared/errors.js';
import type { RunResult } from '../shared/job.js';
import { LANGUAGES, type LanguageSpec } from '../shared/languages.js';
import { type Limits, MAX_LIMITS, resolveLimits } from '../shared/limits.js';
import { type Logger, silentLogger } from '../shared/log.js';
import type { RunnerLanguage } from '../shared/runner-protocol.js';
import {
  DockerSandbox,
  ExecNotStartedError,
  type SandboxContainerSpec,
  type SandboxDriver,
} from './docker-sandbox.js';
import { cancelledBeforeStart, executeJob, type JobSpec, type OutputChunk } from './execute-job.js';
import { LanguageLane, type Waiter } from './language-lane.js';
import { parseVersion } from './language-version.js';
import { PooledContainer } from './pooled-container.js';
import { containerUlimits } from './stage-command.js';

export const RUNNER_LABEL = 'org.codeexec.runner';
export const LANGUAGE_LABEL = 'org.codeexec.language';

export interface PoolOptions {
  /** Labels containers; orphan cleanup is by this name. */
  runnerName: string;
  /** Default: LANGUAGES from shared/languages.ts. */
  languages?: readonly LanguageSpec[];
  /** Warm containers per language, default 1. */
  minWarm?: number;
  /** Most warm containers per language, default 2 (reached while jobs of it are running). */
  maxWarm?: number;
  /** The runner's own caps; default MAX_LIMITS. */
  maxLimits?: Limits;
  /** The Docker driver; default a DockerSandbox on the local engine. Tests may inject a fake. */
  docker?: SandboxDriver;
  /** CPUs per container, default 1. */
  cpus?: number;
  /** Container creations at a time, default 2 (create+start is CPU-heavy for the engine). */
  createConcurrency?: number;
  /** Wall-time cap of a compile stage, default 30 s. */
  compileWallMs?: number;
  /** Size caps of the /workspace and /tmp tmpfs (their pages also count against memory). */
  workspaceBytes?: number;
  tmpBytes?: number;
  /** Where the pool reports what it cannot throw (failed refills, lost containers). */
  log?: Logger;
}

type PoolPhase = 'new' | 'starting' | 'running' | 'closing' | 'closed';

const MiB = 1024 * 1024;
const VERSION_TIMEOUT_MS = 30_000;
const REWATCH_MS = 1000;

export class SandboxPool {
  private readonly runnerName: string;
  private readonly specs: readonly LanguageSpec[];
  private readonly minWarm: number;
  private readonly maxWarm: number;
  private readonly maxLimits: Limits;
  private readonly docker: SandboxDriver;
  private readonly cpus: number;
  private readonly createConcurrency: number;
  private readonly compileWallMs: number;
  private readonly workspaceBytes: number;
  private readonly tmpBytes: number;
  private readonly log: Logger;
  /** Memory and pids every container is created with: the default job's (others get an update). */
  private readonly baseLimits: { memoryBytes: number; pids: number };

  private phase: PoolPhase = 'new';
  private readonly lanes = new Map<string, LanguageLane>();
  private readonly missing = new Map<string, string>();
  /** Every container made and not yet gone, by docker id once it has one. */
  private readonly containers = new Set<PooledContainer>();
  private readonly byId = new Map<string, PooledContainer>();
  private readonly creations = new Set<Promise<void>>();
  private readonly removals = new Set<Promise<void>>();
  private creatingTotal = 0;
  private stopWatching: (() => void) | null = null;
  private rewatchTimer: NodeJS.Timeout | undefined;
  private closed: Promise<void> | null = null;

  constructor(options: PoolOptions) {
    this.runnerName = options.runnerName;
    this.specs = options.languages ?? LANGUAGES;
    this.minWarm = options.minWarm ?? 1;
    this.maxWarm = Math.max(options.maxWarm ?? 2, this.minWarm);
    this.maxLimits = options.maxLimits ?? MAX_LIMITS;
    this.docker = options.docker ?? new DockerSandbox();
    this.cpus = options.cpus ?? 1;
    this.createConcurrency = Math.max(1, options.createConcurrency ?? 2);
    this.compileWallMs = options.compileWallMs ?? 30_000;
    this.workspaceBytes = options.workspaceBytes ?? 64 * MiB;
    this.tmpBytes = options.tmpBytes ?? 256 * MiB;
    this.log = options.log ?? silentLogger;
    const base = resolveLimits(undefined, this.maxLimits).limits;
    this.baseLimits = { memoryBytes: base.memory_bytes, pids: base.pids };
  }

  /** Languages that cannot run here, with why (image missing, version command failed). */
  get unavailable(): ReadonlyMap<string, string> {
    const all = new Map(this.missing);
    for (const lane of this.lanes.values()) {
      if (lane.unavailable !== null) all.set(lane.spec.name, lane.unavailable);
    }
    return all;
  }

  /** Remove orphans, detect versions (one container per language), begin warm-up (not awaited). */
  async start(): Promise<RunnerLanguage[]> {
    if (this.phase !== 'new') throw new Error('SandboxPool.start() may be called once, before close()');
    this.phase = 'starting';
    try {
      await this.removeOrphans();
      await this.watch();
      for (const spec of this.specs) {
        if (await this.docker.imageExists(spec.image)) this.lanes.set(spec.name, new LanguageLane(spec));
        else this.missing.set(spec.name, `image ${spec.image} not found`);
      }
    } catch (err) {
      throw sandboxFailure(err, 'The Docker engine did not answer');
    }
    if (this.phase !== 'starting') return [];
    this.pump();
    await Promise.all([...this.lanes.values()].map((lane) => lane.probed));
    if (this.phase !== 'starting') return [];
    this.phase = 'running';
    this.pump();
    return [...this.lanes.values()]
      .filter((lane) => lane.unavailable === null && lane.version !== null)
      .map((lane) => ({
        name: lane.spec.name,
        version: lane.version ?? '',
        aliases: [...lane.spec.aliases],
      }));
  }

  /** Run one job in a fresh container. Rejects only with CodeexecError (sandbox_failed, unknown_language). */
  async execute(
    job: JobSpec,
    onOutput: (chunk: OutputChunk) => void,
    signal?: AbortSignal,
  ): Promise<RunResult> {
    if (this.phase !== 'running')
      throw new CodeexecError('sandbox_failed', 'The sandbox pool is not running');
    const lane = [...this.lanes.values()].find((l) => l.unavailable === null && l.matches(job.lang));
    if (lane === undefined) {
      throw new CodeexecError('unknown_language', `The language ${job.lang} is not available on this runner`);
    }
    // Never trust the gateway's numbers: clamp to this runner's own maximums.
    const { limits } = resolveLimits(job.limits ?? undefined, this.maxLimits);
    // One retry, only when docker refused to start the exec: the program never ran.
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) return cancelledBeforeStart();
      const container = await this.acquire(lane, signal);
      if (container === null) return cancelledBeforeStart();
      try {
        await this.fit(container, limits);
        const result = await executeJob(job, {
          docker: this.docker,
          containerId: container.id ?? '',
          language: lane.spec,
          limits,
          maxLimits: this.maxLimits,
          cpus: this.cpus,
          compileWallMs: this.compileWallMs,
          onOutput,
          ...(signal === undefined ? {} : { signal }),
        });
        if (container.closedUnderJob) throw new Error('The sandbox pool closed while the job ran');
        return result;
      } catch (err) {
        if (signal?.aborted && !container.closedUnderJob) return cancelledBeforeStart();
        const retry = err instanceof ExecNotStartedError && attempt < 2 && this.phase === 'running';
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

  /** Stop refilling; kill and remove every container this pool made, and wait for it. Idempotent. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    const started = this.phase !== 'new';
    this.phase = 'closing';
    this.stopWatching?.();
    this.stopWatching = null;
    clearTimeout(this.rewatchTimer);
    const closing = new CodeexecError('sandbox_failed', 'The sandbox pool is closing');
    for (const lane of this.lanes.values()) {
      clearTimeout(lane.retryTimer);
      for (const waiter of lane.waiters.splice(0)) waiter.reject(closing);
      lane.settleProbe();
    }
    for (const container of this.containers) {
      if (container.state === 'leased') container.closedUnderJob = true;
      if (container.state === 'warm' || container.state === 'leased') this.destroy(container);
    }
    // Creations in flight destroy what they made once they see the phase.
    await Promise.allSettled([...this.creations]);
    await Promise.allSettled([...this.removals]);
    // Safety net: a container whose create reply was lost still carries our label.
    if (started)
      await this.removeOrphans().catch((err) => {
        this.log('warn', 'could not sweep containers at close', { error: (err as Error).message });
      });
    this.phase = 'closed';
  }

  private async removeOrphans(): Promise<void> {
    const ids = await this.docker.listByLabel(RUNNER_LABEL, this.runnerName);
    await Promise.all(ids.map((id) => this.docker.remove(id)));
  }

  /** Follow container deaths so a warm container that died is replaced, never handed out. */
  private async watch(): Promise<void> {
    const rewatch = () => {
      if (this.phase !== 'starting' && this.phase !== 'running') return;
      this.rewatchTimer = setTimeout(() => {
        this.watch().catch((err) => {
          this.log('warn', 'docker events stream failed', { error: (err as Error).message });
          rewatch();
        });
      }, REWATCH_MS);
    };
    const stop = await this.docker.watchDeaths(
      RUNNER_LABEL,
      this.runnerName,
      (id) => this.onDeath(id),
      rewatch,
    );
    // close() may have run while the stream was opening.
    if (this.phase === 'starting' || this.phase === 'running') this.stopWatching = stop;
    else stop();
  }

  private onDeath(id: string): void {
    const container = this.byId.get(id);
    if (container?.state !== 'warm') return; // leased ones are the job's business; others are going
    const warm = this.lanes.get(container.language)?.warm;
    const index = warm?.indexOf(container) ?? -1;
    if (index >= 0) warm?.splice(index, 1);
    this.log('warn', 'a warm container died; replacing it', { language: container.language, container: id });
    this.destroy(container);
    this.pump();
  }

  private acquire(lane: LanguageLane, signal?: AbortSignal): Promise<PooledContainer | null> {
    const warm = lane.warm.shift();
    if (warm !== undefined) {
      this.lease(lane, warm);
      this.pump();
      return Promise.resolve(warm);
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        lane.waiters = lane.waiters.filter((w) => w !== waiter);
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
      this.pump();
    });
  }

  private lease(lane: LanguageLane, container: PooledContainer): void {
    container.to('leased');
    lane.leased++;
  }

  /** The container is done with: destroy it in the background and refill. */
  private release(lane: LanguageLane, container: PooledContainer): void {
    lane.leased--;
    this.destroy(container);
    this.pump();
  }

  /** Give the container the job's memory and pids limits when they differ from what it has. */
  private async fit(container: PooledContainer, limits: Limits): Promise<void> {
    if (container.memoryBytes === limits.memory_bytes && container.pids === limits.pids) return;
    await this.docker.update(container.id ?? '', { memoryBytes: limits.memory_bytes, pids: limits.pids });
    container.memoryBytes = limits.memory_bytes;
    container.pids = limits.pids;
  }

  /** Start creations while there is capacity: waiting jobs first, then version probes, then refill. */
  private pump(): void {
    if (this.phase !== 'starting' && this.phase !== 'running') return;
    while (this.creatingTotal < this.createConcurrency) {
      const lane = this.nextLane();
      if (lane === null) return;
      this.create(lane);
    }
  }

  private nextLane(): LanguageLane | null {
    const lanes = [...this.lanes.values()].filter((lane) => lane.unavailable === null);
    const waiting = lanes
      .filter((lane) => lane.unserved > 0)
      .sort((a, b) => (a.waiters[0]?.since ?? 0) - (b.waiters[0]?.since ?? 0));
    if (waiting[0] !== undefined) return waiting[0];
    const probe = lanes.find((lane) => lane.needsProbe);
    if (probe !== undefined) return probe;
    if (this.phase !== 'running') return null;
    const now = performance.now();
    let best: LanguageLane | null = null;
    for (const lane of lanes) {
      const deficit = lane.deficit(this.minWarm, this.maxWarm);
      if (
        deficit > 0 &&
        lane.retryAt <= now &&
        (best === null || deficit > best.deficit(this.minWarm, this.maxWarm))
      ) {
        best = lane;
      }
    }
    return best;
  }

  private create(lane: LanguageLane): void {
    const probe = lane.needsProbe;
    lane.needsProbe = false;
    const container = new PooledContainer(lane.spec.name, this.baseLimits);
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
    if (probe) lane.version = await this.detectVersion(id, lane.spec);
  }

  private place(lane: LanguageLane, container: PooledContainer): void {
    lane.succeeded();
    if (this.phase !== 'starting' && this.phase !== 'running') {
      this.destroy(container);
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
    if (container.id === null) this.forget(container);
    else this.destroy(container);
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

  private destroy(container: PooledContainer): void {
    if (container.state === 'destroying' || container.state === 'gone') return;
    const id = container.id;
    if (id === null) {
      this.forget(container);
      return;
    }
    container.to('destroying');
    const removal: Promise<void> = this.docker
      .remove(id)
      .catch((err) =>
        this.log('warn', 'removing a container failed', { container: id, error: (err as Error).message }),
      )
      .finally(() => {
        this.forget(container);
        this.removals.delete(removal);
      });
    this.removals.add(removal);
  }

  private forget(container: PooledContainer): void {
    container.to('gone');
    this.containers.delete(container);
    if (container.id !== null) this.byId.delete(container.id);
  }

  private async detectVersion(id: string, spec: LanguageSpec): Promise<string> {
    const chunks: Buffer[] = [];
    const timeout = AbortSignal.timeout(VERSION_TIMEOUT_MS);
    const code = await this.docker.exec(id, {
      argv: spec.version,
      input: null,
      onOutput: (_stream, data) => chunks.push(Buffer.from(data)),
      signal: timeout,
    });
    const text = Buffer.concat(chunks).toString('utf8');
    if (code !== 0)
      throw new Error(`\`${spec.version.join(' ')}\` ended with ${code}: ${text.trim().slice(0, 200)}`);
    const version = parseVersion(text);
    if (version === null)
      throw new Error(`no version in the output of \`${spec.version.join(' ')}\`: ${text.trim()}`);
    return version;
  }

  private containerSpec(spec: LanguageSpec): SandboxContainerSpec {
    return {
      image: spec.image,
      labels: { [RUNNER_LABEL]: this.runnerName, [LANGUAGE_LABEL]: spec.name },
      memoryBytes: this.baseLimits.memoryBytes,
      pids: this.baseLimits.pids,
      cpus: this.cpus,
      ulimits: containerUlimits(this.maxLimits),
      workspaceBytes: this.workspaceBytes,
      tmpBytes: this.tmpBytes,
      shmBytes: 64 * MiB,
    };
  }
}

function sandboxFailure(err: unknown, message: string): CodeexecError {
  if (err instanceof CodeexecError) return err;
  return new CodeexecError('sandbox_failed', `${message}: ${(err as Error)?.message ?? String(err)}`);
}
