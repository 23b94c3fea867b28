// Removes the pool's containers. A removal is ~80 ms of engine work (kill, unmount, cgroup
// teardown) that slows an exec running beside it by ~15 ms on a 2-core machine, so during a burst
// of jobs a spent container that provably runs nothing waits until the pool is idle. One that
// still runs anything (a process the job left behind) or holds much memory is removed at once, as
// is every container past the deferral cap, and every one once the pool stops deferring (under
// sustained load deferring only moves the same work to the end). Spent is spent: never reused.
import type { Logger } from '../../shared/log.js';
import type { ContainerUsage, SandboxDriver } from '../docker/docker-sandbox.js';
import type { PooledContainer } from './pooled-container.js';

export interface ReaperOptions {
  docker: Pick<SandboxDriver, 'remove'> & { usage?: (containerId: string) => Promise<ContainerUsage> };
  /** Idle spent containers kept for an idle moment at most; past it the oldest goes at once. */
  maxDeferred: number;
  /** Removals at a time while draining the deferred ones. */
  concurrency: number;
  /** Whether a removal now would slow a burst of jobs down: then idle containers wait. */
  deferring: () => boolean;
  /** Called once a container is removed, or its removal failed (it was logged). */
  onGone: (container: PooledContainer) => void;
  log: Logger;
}

/** docker-init and `sleep infinity`: everything a container runs when no job is in it. */
const IDLE_PIDS = 2;
/** Above this (files left in the tmpfs count), waiting for a quiet moment costs the host too much. */
const DEFER_MAX_MEMORY_BYTES = 32 * 1024 * 1024;

export class ContainerReaper {
  private readonly options: ReaperOptions;
  private readonly deferred: PooledContainer[] = [];
  /** Removals and usage checks in flight. */
  private readonly tasks = new Set<Promise<void>>();
  private draining = 0;
  private closed = false;

  constructor(options: ReaperOptions) {
    this.options = options;
  }

  /** Nothing deferred and nothing in flight. */
  get idle(): boolean {
    return this.tasks.size === 0 && this.deferred.length === 0;
  }

  /** Kill and remove it now, in the background. */
  remove(container: PooledContainer): void {
    void this.removal(container);
  }

  /** A container whose job is over: removed at once, or (idle inside, pool deferring) later. */
  retire(container: PooledContainer): void {
    const usage = this.options.docker.usage;
    const defer = this.options.deferring() && !this.closed && this.options.maxDeferred > 0;
    if (!defer || usage === undefined || container.id === null) {
      this.remove(container);
      this.drain();
      return;
    }
    const check = usage.call(this.options.docker, container.id).then(
      (used) => {
        if (container.state !== 'spent') return; // removed meanwhile (the pool closed)
        if (this.closed || used.pids > IDLE_PIDS || used.memoryBytes > DEFER_MAX_MEMORY_BYTES) {
          this.remove(container);
          return;
        }
        this.deferred.push(container);
        while (this.deferred.length > this.options.maxDeferred) this.remove(this.deferred.shift()!);
        this.drain();
      },
      () => this.remove(container),
    );
    void this.track(check, () => {});
  }

  /** Stop deferring, remove everything deferred, and wait for every removal in flight. */
  async close(): Promise<void> {
    this.closed = true;
    for (const container of this.deferred.splice(0)) this.remove(container);
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
  }

  /** Remove deferred containers while the pool is not deferring (it calls this when that starts). */
  drain(): void {
    // Each step re-checks: a burst that starts meanwhile stops new removals (those in flight finish).
    while (
      this.draining < this.options.concurrency &&
      this.deferred.length > 0 &&
      !this.options.deferring()
    ) {
      this.draining++;
      void this.removal(this.deferred.shift()!).finally(() => {
        this.draining--;
        this.drain();
      });
    }
  }

  /** Resolves once the container is gone (its removal may have failed: then it was logged). */
  private removal(container: PooledContainer): Promise<void> {
    if (container.state === 'destroying' || container.state === 'gone') return Promise.resolve();
    container.to('destroying');
    const id = container.id;
    if (id === null) {
      this.options.onGone(container);
      return Promise.resolve();
    }
    const removed = this.options.docker.remove(id).catch((err) => {
      this.options.log.warn({ container: id, err }, 'removing a container failed');
    });
    return this.track(removed, () => this.options.onGone(container));
  }

  private track(task: Promise<void>, then: () => void): Promise<void> {
    const tracked: Promise<void> = task.finally(() => {
      this.tasks.delete(tracked);
      then();
    });
    this.tasks.add(tracked);
    return tracked;
  }
}
