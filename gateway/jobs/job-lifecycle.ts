// The moves of a job between states, each done the same way whichever path leads to it: the book
// changes (and the store follows), the queue and the registry agree with it, and JobEvents and
// the job's watchers hear of it. The dispatcher decides when; this does it.
import type { JobRecord, Logger } from '../../shared/index.js';
import type { JobEvents } from '../events/job-events.js';
import { jobFields } from '../events/log-events.js';
import type { OutputLogs } from '../output/output-log.js';
import type { RunnerConnection } from '../runners/runner-connection.js';
import type { RunnerRegistry } from '../runners/runner-registry.js';
import type { Clock } from '../scheduling/clock.js';
import { type DonorMax, effectiveTrust } from '../scheduling/donor-limits.js';
import type { JobQueue } from '../scheduling/job-queue.js';
import { afterRunnerLost, type SchedJob } from '../scheduling/scheduler.js';
import type { JobBook } from './job-book.js';
import type { JobInput } from './job-input.js';

export interface JobLifecycleParts {
  book: JobBook;
  registry: RunnerRegistry;
  events: JobEvents;
  clock: Clock;
  log: Logger;
  queue: JobQueue;
  input: JobInput;
  queueTimeoutMs: number;
  maxAttempts: number;
  /** What donors may be asked for; a job asking more runs only on trusted runners. */
  donorMax: DonorMax;
  /** Every job's output log: an attempt begins at adopt, and the log may go once the job ends. */
  output: OutputLogs;
  /** Runner identities a job must avoid (a verified job's replicas: where its siblings run). */
  avoidFor: (job: JobRecord) => string[];
}

export class JobLifecycle {
  readonly #p: JobLifecycleParts;
  /** Runners (by name) that refused a job, so it is not offered to them again. */
  readonly #refusedBy = new Map<string, Set<string>>();

  constructor(parts: JobLifecycleParts) {
    this.#p = parts;
  }

  /** How long the job may wait for a runner: its own queue_timeout_ms, or the gateway's. */
  timeoutOf(job: JobRecord | undefined): number {
    return job?.queue_timeout_ms ?? this.#p.queueTimeoutMs;
  }

  refusedBy(id: string): string[] {
    return [...(this.#refusedBy.get(id) ?? [])];
  }

  /** A runner refused the job: it waits again, at the front, for another runner. */
  refused(id: string, runner: string): void {
    let refused = this.#refusedBy.get(id);
    if (refused === undefined) {
      refused = new Set();
      this.#refusedBy.set(id, refused);
    }
    refused.add(runner);
    this.#p.queue.add(id, this.timeoutOf(this.#p.book.get(id)), true);
  }

  /** A queued job becomes `running` on this runner: one more attempt. */
  adopt(runner: RunnerConnection, id: string): void {
    const { book, queue, registry, clock, events, input } = this.#p;
    const job = book.get(id)!;
    queue.drop(id);
    registry.hold(runner, id);
    const now = clock.now();
    const started = book.transition(id, 'running', {
      runner_id: runner.name,
      attempt: job.attempt + 1,
      started_at: new Date(now).toISOString(),
      timings: { ...job.timings, queue_ms: now - Date.parse(job.created_at) },
    });
    this.#p.output.begin(id, started.attempt);
    events.publish(started, { type: 'started', job: started });
    input.started(id, (frame) => runner.send(frame));
  }

  /** The job's runner is gone for good: run it again elsewhere (an infrastructure failure). */
  lost(id: string, runnerName: string, why: string): void {
    const job = this.#p.book.get(id);
    if (job?.status !== 'running') return;
    this.#p.log.warn({ ...jobFields(job), runner_id: runnerName, why }, 'runner lost while running a job');
    if (afterRunnerLost(job, this.#p.maxAttempts) === 'requeue') {
      this.requeue(job, runnerName, why);
      return;
    }
    this.finish(id, 'failed', {
      error: { code: 'runner_lost', message: `The runner went away during attempt ${job.attempt}` },
    });
  }

  /**
   * A running job waits again, at the front (attempt stays: the next start adds one). A job its
   * runner handed back (`countAttempt` false) does not use up an attempt.
   */
  requeue(job: JobRecord, runnerName: string, reason: string, countAttempt = true): void {
    const queued = this.#p.book.transition(job.id, 'queued', {
      runner_id: null,
      started_at: null,
      ...(countAttempt ? {} : { attempt: Math.max(0, job.attempt - 1) }),
    });
    this.#p.queue.add(job.id, this.timeoutOf(queued), true);
    this.#p.events.emit('job.requeued', { job: queued, runner: runnerName, reason });
    this.depth();
  }

  /** A session's execution whose runner went away: its sandbox is gone, so it ends. */
  sessionLost(id: string): void {
    this.finish(id, 'failed', {
      error: { code: 'runner_lost', message: "The runner holding the job's session went away" },
    });
  }

  /** The job ends: done, failed or cancelled. Its watchers get the final record. */
  finish(id: string, to: 'done' | 'failed' | 'cancelled', patch: Partial<JobRecord>): JobRecord {
    const job = this.#p.book.transition(id, to, {
      finished_at: new Date(this.#p.clock.now()).toISOString(),
      ...patch,
    });
    this.#p.queue.drop(id);
    this.#refusedBy.delete(id);
    this.#p.input.forget(id);
    this.#p.output.finished(id);
    this.#p.events.publish(job, { type: 'end', job });
    return job;
  }

  /**
   * Cancels a job of this process. A queued one ends at once; a running one is killed by its
   * runner and ends when the runner reports it (or at once if its runner is gone). A finished
   * one is returned as it is.
   */
  cancel(id: string): JobRecord | undefined {
    const { book, queue, registry } = this.#p;
    const job = book.get(id);
    if (job?.status === 'queued') {
      queue.drop(id);
      registry.holderOf(id)?.send({ type: 'cancel', job_id: id });
      return this.finish(id, 'cancelled', { reason: 'cancelled' });
    }
    if (job?.status === 'running') {
      const runner = registry.holderOf(id);
      if (runner) runner.send({ type: 'cancel', job_id: id });
      else {
        registry.clearLease(id);
        return this.finish(id, 'cancelled', { reason: 'cancelled' });
      }
    }
    return job;
  }

  /** A queued job as the scheduler sees it. */
  schedJob(job: JobRecord, requeued: boolean): SchedJob {
    return {
      id: job.id,
      lang: job.lang,
      labels: job.labels,
      client: job.client,
      attempt: job.attempt,
      requeued,
      refusedBy: this.refusedBy(job.id),
      trust: effectiveTrust(job, this.#p.donorMax),
      avoid: this.#p.avoidFor(job),
      group: job.replica_of,
    };
  }

  /** Tells JobEvents how many jobs wait. */
  depth(): void {
    this.#p.events.emit('queue.depth', { depth: this.#p.queue.size });
  }
}
