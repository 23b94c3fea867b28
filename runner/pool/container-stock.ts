// The pool's stock of containers: a lane of them per language, each made ahead of demand with
// its first exec started, handed to one job (or session) and retired after it. It decides what to
// create next (a waiting job first, then version probes, then refills while there is capacity, at
// most `createConcurrency` in the background) and when the pool has settled. The pool around it
// (sandbox-pool.ts) runs jobs in what it hands out. A little past ~350 lines: what to create next
// and when the stock has settled read the same lane state, and are clearest side by side.
import { CodeexecError } from '../../shared/errors.js';
import type { LanguageSpec } from '../../shared/languages.js';
import type { Logger } from '../../shared/log.js';
import type { SandboxContainerSpec } from '../docker/docker-sandbox.js';
import { ContainerReaper } from './container-reaper.js';
import { type LanguageLane, laneToFill, type Waiter } from './language-lane.js';
import { PoolActivity } from './pool-activity.js';
import { PoolLanes } from './pool-lanes.js';
import type { PoolDriver } from './pool-options.js';
import { PooledContainer } from './pooled-container.js';

export interface StockOptions {
  docker: PoolDriver;
  minWarm: number;
  maxWarm: number;
  createConcurrency: number;
  prepareExecs: boolean;
  maxDeferred: number;
  quietMs: number;
  burstMs: number;
  log: Logger;
  /** The container a language runs in (image, labels, limits, hardening). */
  spec: (language: LanguageSpec) => SandboxContainerSpec;
  /** The limits a new container gets, as a job's fit() compares them. */
  initial: () => { memoryBytes: number; pids: number; cpus: number };
}

/** One language's containers by state, as metrics show them (runner/metrics/runner-metrics.ts). */
export interface LanguageStock {
  language: string;
  /** Being created and started (each serves a waiting job, or becomes warm). */
  starting: number;
  warm: number;
  /** Leased to a job or a session. */
  inUse: number;
  /** Spent or dying: waiting for (or under) removal. */
  removing: number;
  /** The warm containers the pool aims to hold for it now; 0 while it cannot run, or once closing. */
  warmTarget: number;
  /** Jobs waiting for a container to be created. */
  waiting: number;
}

const STOCK_STATE = {
  creating: 'starting',
  warm: 'warm',
  leased: 'inUse',
  spent: 'removing',
  destroying: 'removing',
  gone: null,
} as const;

/** starting (version probes, no refills) → running → closing → closed. */
type StockPhase = 'starting' | 'running' | 'closing' | 'closed';

export class ContainerStock {
  readonly lanes = new PoolLanes();
  private readonly options: StockOptions;
  private readonly docker: PoolDriver;
  private readonly minWarm: number;
  private readonly maxWarm: number;
  private readonly createConcurrency: number;
  private readonly prepareExecs: boolean;
  private readonly log: Logger;
  private phase: StockPhase = 'starting';
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

  constructor(options: StockOptions) {
    this.options = options;
    this.docker = options.docker;
    this.minWarm = options.minWarm;
    this.maxWarm = options.maxWarm;
    this.createConcurrency = options.createConcurrency;
    this.prepareExecs = options.prepareExecs;
    this.log = options.log;
    this.activity = new PoolActivity({
      quietMs: options.quietMs,
      burstMs: options.burstMs,
      onIdle: () => {
        this.pump();
        this.reaper.drain();
      },
    });
    this.reaper = new ContainerReaper({
      docker: this.docker,
      maxDeferred: options.maxDeferred,
      concurrency: this.createConcurrency,
      deferring: () => this.deferring,
      onGone: (container) => this.forget(container),
      log: this.log,
    });
  }

  /** Whether it hands out containers (it started, and is not closing). */
  get running(): boolean {
    return this.phase === 'running';
  }

  /** The version probes are done: refill and keep the warm targets from now on. */
  run(): void {
    if (this.phase !== 'starting') return;
    this.phase = 'running';
    this.maybeQuiet();
    this.pump();
  }

  /** A lane for `spec`, its version probe started (it replaces one that could not run). */
  addLane(spec: LanguageSpec): LanguageLane {
    const lane = this.lanes.add(spec);
    this.pump();
    return lane;
  }

  /**
   * Resolves once nothing is being created or removed and every language holds its warm target
   * (or is backing off after failures). Benchmarks and tests wait for it instead of sleeping.
   */
  settled(): Promise<void> {
    if (this.isSettled()) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  /** Each language's containers by state, its warm target and waiting jobs, now. */
  byLanguage(): LanguageStock[] {
    const idle = this.activity.idle;
    const byLanguage = new Map<string, LanguageStock>();
    const entry = (language: string, warmTarget = 0, waiting = 0): LanguageStock => {
      let stock = byLanguage.get(language);
      if (stock === undefined) {
        stock = { language, starting: 0, warm: 0, inUse: 0, removing: 0, warmTarget, waiting };
        byLanguage.set(language, stock);
      }
      return stock;
    };
    const keeping = this.phase === 'starting' || this.phase === 'running';
    for (const lane of this.lanes) {
      const target = keeping && lane.unavailable === null ? lane.target(this.minWarm, this.maxWarm, idle) : 0;
      entry(lane.spec.name, target, lane.waiters.length);
    }
    for (const container of this.containers) {
      const state = STOCK_STATE[container.state];
      if (state !== null) entry(container.language)[state]++;
    }
    return [...byLanguage.values()];
  }

  /**
   * Stop creating; jobs waiting for a container are refused, leased containers are told they are
   * lost, and every container is removed. Resolves once creations and removals are over.
   */
  async close(): Promise<void> {
    this.phase = 'closing';
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
  }

  /** The pool's last sweep is done: settled() resolves from now on. */
  markClosed(): void {
    this.phase = 'closed';
    this.checkSettled();
  }

  /** The engine says a container of this runner died: a warm one is replaced, a session told. */
  onDeath(id: string): void {
    const container = this.byId.get(id);
    container?.onLost?.('its container died');
    if (container !== undefined) this.dropWarm(container, 'died');
  }

  /**
   * A container of `lane` for one job or session: a warm one at once, else the next one made (a
   * creation of its own starts). Null when `signal` aborts the wait.
   */
  acquire(lane: LanguageLane, signal?: AbortSignal): Promise<PooledContainer | null> {
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
  release(lane: LanguageLane, container: PooledContainer): void {
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

  /** Start creations: one per waiting job, then version probes and refills while there is capacity. */
  pump(): void {
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
    const container = new PooledContainer(lane.spec.name, this.options.initial());
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
    const id = await this.docker.createAndStart(this.options.spec(lane.spec));
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
      this.log.error({ language: lane.spec.name, err }, 'language unavailable');
      return;
    }
    const delay = lane.failed(performance.now());
    clearTimeout(lane.retryTimer);
    lane.retryTimer = setTimeout(() => this.pump(), delay);
    this.log.warn({ language: lane.spec.name, retry_ms: delay, err }, 'creating a sandbox failed');
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

  /** A warm container that died or whose prepared exec ended: remove and replace it. */
  private dropWarm(container: PooledContainer, why: string): void {
    if (container.state !== 'warm') return; // leased ones are the job's business; others are going
    const warm = this.lanes.get(container.language)?.warm;
    const index = warm?.indexOf(container) ?? -1;
    if (index >= 0) warm?.splice(index, 1);
    this.log.warn(
      { language: container.language, container: container.id },
      `a warm container ${why}; replacing it`,
    );
    this.reaper.remove(container);
    this.pump();
  }
}
