// Handing queued jobs to another gateway of the fleet (fleet/handoff.ts decides which, the fleet
// keeper asks): which jobs may move, and the move itself — out of the queue while the store
// changes their owner, out of the book once moved, back in the queue if not.
import type { Logger } from '../../shared/index.js';
import type { QueuedHere } from '../fleet/handoff.js';
import type { RunnerRegistry } from '../runners/runner-registry.js';
import type { Clock } from '../scheduling/clock.js';
import type { JobQueue } from '../scheduling/job-queue.js';
import type { JobBook } from './job-book.js';
import type { JobInput } from './job-input.js';
import type { JobLifecycle } from './job-lifecycle.js';

export interface QueueHandoffParts {
  book: JobBook;
  registry: RunnerRegistry;
  clock: Clock;
  log: Logger;
  queue: JobQueue;
  input: JobInput;
  life: JobLifecycle;
  /** A scheduling pass (the jobs that stayed may be offered now). */
  pump: () => void;
}

export class QueueHandoff {
  readonly #o: QueueHandoffParts;

  constructor(parts: QueueHandoffParts) {
    this.#o = parts;
  }

  /**
   * Queued jobs free to move to another gateway of the fleet (fleet/handoff.ts), in queue order:
   * not offered, not a session's, not a replica, with no input waiting for them here.
   */
  movable(): QueuedHere[] {
    const { book, registry, clock } = this.#o;
    const now = clock.now();
    const movable: QueuedHere[] = [];
    for (const entry of this.#o.queue.entries()) {
      const job = book.get(entry.id);
      if (job?.status !== 'queued' || job.session_id !== null || job.replica_of !== null) continue;
      if (this.#o.input.holds(job.id) || registry.isOffered(job.id)) continue;
      movable.push({
        id: job.id,
        placement: this.#o.life.schedJob(job, entry.requeued),
        waitedMs: now - Date.parse(job.created_at),
      });
    }
    return movable;
  }

  /**
   * Hands queued jobs to another gateway: out of the queue while `move` (the store's handoff)
   * runs; those it moved leave the book (their owner answers for them now, and this gateway's
   * watchers follow them on the bus), the others wait here again. Resolves with the moved ids.
   */
  async handOff(ids: readonly string[], move: (ids: string[]) => Promise<string[]>): Promise<string[]> {
    const { book, registry, log } = this.#o;
    const held = ids.filter(
      (id) => this.#o.queue.has(id) && book.get(id)?.status === 'queued' && !registry.isOffered(id),
    );
    if (held.length === 0) return [];
    this.#o.queue.takeAll(new Set(held));
    let moved: string[] = [];
    try {
      moved = await move(held);
    } catch (err) {
      log.warn({ err, jobs: held.length }, 'could not hand jobs to another gateway; they wait here');
    }
    const gone = new Set(moved);
    for (const id of held) {
      if (gone.has(id) && book.forget(id)) continue;
      const job = book.get(id);
      if (job?.status === 'queued') this.#o.queue.add(id, this.#o.life.timeoutOf(job));
    }
    this.#o.life.depth();
    this.#o.pump();
    return moved;
  }
}
