// Taking jobs in that this gateway did not start with: its own previous process's (recover), those
// claimed from a gateway whose lease ran out (the fleet keeper), and jobs a runner reports held
// that the fleet is asked for meanwhile (their results kept until the answer). Each goes where it
// belongs: queued ones in the queue, running ones with their runner or on a lease for it, a
// verified job's replicas started over, a session's execution failed (its sandbox is gone).
import type { JobRecord, RunResult } from '../../shared/index.js';
import type { RunnerConnection } from '../runners/runner-connection.js';
import type { RunnerRegistry } from '../runners/runner-registry.js';
import type { JobQueue } from '../scheduling/job-queue.js';
import { type HeldClaim, HeldClaims } from './held-claims.js';
import type { JobBook } from './job-book.js';
import type { JobLifecycle } from './job-lifecycle.js';
import { Verifier } from './verifier.js';

export interface JobTakeoverParts {
  book: JobBook;
  registry: RunnerRegistry;
  queue: JobQueue;
  life: JobLifecycle;
  verifier: Verifier;
  /** Starts the lease of a running job whose runner is not here (Dispatcher). */
  startLease: (id: string, runner: string) => void;
  pump: () => void;
  /** A runner's result, as if it came now (Dispatcher.done). */
  done: (
    runner: RunnerConnection,
    id: string,
    result?: RunResult,
    error?: { code: string; message: string },
  ) => void;
}

export class JobTakeover {
  readonly #o: JobTakeoverParts;
  /** Jobs runners reported held that the fleet is being asked for. */
  readonly claims = new HeldClaims();

  constructor(parts: JobTakeoverParts) {
    this.#o = parts;
  }

  /**
   * Takes over unfinished jobs claimed from gateways whose lease ran out (fleet-keeper.ts), as
   * recover does with a previous process's. A job whose runner is connected here but did not
   * report it held was lost with that gateway, and runs again.
   */
  takeOver(jobs: readonly JobRecord[]): void {
    const claimed = jobs.filter((job) => {
      if (this.#o.book.adopt(job)) return true;
      // The book had it (claimed twice over): a runner here may be waiting for its answer.
      const claim = this.claims.take(job.id);
      if (claim !== undefined) this.reclaim(claim.runner, job.id, claim.done);
      return false;
    });
    this.takeIn(claimed, true);
  }

  /**
   * The fleet will not give this gateway a job `runner` reported held (it ended, or a living
   * gateway keeps it): the runner drops it.
   */
  refused(runner: RunnerConnection, id: string): void {
    if (!this.claims.has(id, runner)) return;
    this.claims.take(id);
    runner.send({ type: 'cancel', job_id: id });
  }

  /**
   * Puts jobs just taken into the book where they belong: queued ones in the queue, running ones
   * with their runner (or on a lease until it comes back). `claimed`: they come from a gateway
   * that died, not from this process's own last run.
   */
  takeIn(jobs: readonly JobRecord[], claimed: boolean): void {
    const verified: JobRecord[] = [];
    for (const job of jobs) {
      const claim = this.claims.take(job.id);
      if (claim !== undefined && this.#o.registry.get(claim.runner.name) === claim.runner) {
        if (job.replica_of === null && !Verifier.verifies(job) && job.session_id === null) {
          this.reclaim(claim.runner, job.id, claim.done);
          continue;
        }
        // Started over or failed below: that runner must not deliver it.
        claim.runner.send({ type: 'cancel', job_id: job.id });
      }
      if (job.replica_of !== null) {
        // Its verified job starts over (below): this replica's runner must not deliver it.
        this.#o.life.finish(job.id, 'cancelled', { reason: 'cancelled' });
      } else if (Verifier.verifies(job)) {
        verified.push(job);
      } else if (job.session_id !== null) {
        this.#o.life.finish(job.id, 'failed', {
          error: { code: 'session_closed', message: 'The gateway restarted; the session it ran in is gone' },
        });
      } else if (job.status === 'running') {
        const runner = this.#o.registry.get(job.runner_id ?? '');
        // Connected here, and its hello did not list the job: it is not running anywhere.
        if (claimed && runner !== undefined)
          this.#o.life.lost(job.id, runner.name, 'its runner came back without it');
        else this.#o.startLease(job.id, job.runner_id ?? 'unknown');
      } else this.#o.queue.add(job.id, this.#o.life.timeoutOf(job));
    }
    for (const job of verified) {
      const queued =
        job.status === 'queued' ? job : this.#o.book.transition(job.id, 'queued', { started_at: null });
      this.#o.verifier.begin(queued);
    }
    this.#o.life.depth();
    this.#o.pump();
  }

  /**
   * A runner holds a job the book has: it is that runner's again if it runs there (or is queued:
   * the runner's accept was lost); otherwise the runner must drop it. A result it sent while the
   * job was under claim is taken now.
   */
  reclaim(runner: RunnerConnection, id: string, done?: HeldClaim['done']): void {
    const { book, registry } = this.#o;
    const job = book.get(id);
    if (job?.status === 'running' && job.runner_id === runner.name) {
      registry.hold(runner, id);
    } else if (job?.status === 'queued' && !registry.isOffered(id)) {
      // It accepted the job, but that news was lost (a gateway crash before the write, or a
      // lease that ran out first): it runs there, so it is that runner's again.
      this.#o.life.adopt(runner, id);
    } else {
      // Finished, or someone else's by now: the runner must not deliver it.
      runner.send({ type: 'cancel', job_id: id });
      return;
    }
    if (done !== undefined) this.#o.done(runner, id, done.result, done.error);
  }
}
