// The queue and the scheduler: takes accepted jobs, offers each to the least-loaded runner that
// has its language and a free slot, tracks accept/reject, output and results, and re-queues the
// jobs of a runner that goes away (an infrastructure failure, so attempt + 1, up to a cap).
import { randomUUID } from 'node:crypto';
import {
  type AsyncRequest,
  CodeexecError,
  type JobRecord,
  type Logger,
  type OfferedJob,
  type RunResult,
} from '../shared/index.js';
import type { JobStore } from './job-store.js';
import type { RunnerSession } from './runner-session.js';

export interface DispatcherOptions {
  store: JobStore;
  log: Logger;
  /** How long a job may wait for a runner before it fails with no_runner. */
  queueTimeoutMs: number;
  /** How long a runner has to accept or reject an offer. */
  offerTimeoutMs: number;
  /** Attempts per job; a job whose runner vanished is re-queued until this many. */
  maxAttempts: number;
  /** How long a running job waits for its vanished runner to come back before it is re-queued. */
  leaseMs: number;
}

export interface OutputEvent {
  stream: 'stdout' | 'stderr';
  seq: number;
  data: string;
}

interface Watcher {
  output?: (event: OutputEvent) => void;
  end: (job: JobRecord) => void;
}

export class Dispatcher {
  readonly #options: DispatcherOptions;
  readonly #runners = new Set<RunnerSession>();
  /** Job ids waiting for a runner, in order. */
  readonly #queue: string[] = [];
  readonly #queueTimers = new Map<string, NodeJS.Timeout>();
  readonly #offerTimers = new Map<string, NodeJS.Timeout>();
  /** Runners that refused a job, so it is not offered to them again. */
  readonly #refusedBy = new Map<string, Set<RunnerSession>>();
  readonly #watchers = new Map<string, Set<Watcher>>();
  /** Running jobs whose runner is gone: re-queued when the lease runs out, unless it comes back. */
  readonly #leases = new Map<string, NodeJS.Timeout>();

  constructor(options: DispatcherOptions) {
    this.#options = options;
  }

  get #store(): JobStore {
    return this.#options.store;
  }

  /**
   * Picks up what a previous gateway process left: queued jobs go back in the queue; running
   * ones wait a lease for their runner to reconnect and report them held.
   */
  recover(): void {
    for (const job of this.#store.unfinished()) {
      if (job.status === 'running') this.#startLease(job.id);
      else this.#enqueue(job.id);
    }
    this.#pump();
  }

  submit(request: AsyncRequest, lang: string): JobRecord {
    const job: JobRecord = {
      id: randomUUID(),
      task_id: request.task_id ?? null,
      lang,
      code: request.code,
      output: '',
      exit_code: null,
      status: 'queued',
      stdout: '',
      stderr: '',
      signal: null,
      reason: null,
      compile: null,
      error: null,
      stdin: request.stdin ?? null,
      args: request.args ?? [],
      files: request.files ?? [],
      limits: request.limits ?? null,
      compile_limits: request.compile_limits ?? null,
      output_files: [],
      labels: request.labels ?? [],
      callback_url: request.callback_url ?? null,
      runner_id: null,
      attempt: 0,
      created_at: new Date().toISOString(),
      started_at: null,
      finished_at: null,
      timings: { queue_ms: null, compile_ms: null, run_ms: null, total_ms: null },
    };
    this.#store.insert(job);
    this.#enqueue(job.id);
    this.#pump();
    return job;
  }

  /** Resolves with the job once it is done, failed or cancelled. */
  wait(id: string, output?: (event: OutputEvent) => void): Promise<JobRecord> {
    const job = this.#store.get(id);
    if (!job) return Promise.reject(new CodeexecError('not_found', `no job ${id}`));
    if (isFinished(job)) return Promise.resolve(job);
    return new Promise((resolve) => {
      const watchers = this.#watchers.get(id) ?? new Set();
      watchers.add(output ? { end: resolve, output } : { end: resolve });
      this.#watchers.set(id, watchers);
    });
  }

  /**
   * A runner said hello. Jobs it reports held are its again (their results will come); jobs the
   * store says it was running but it does not hold were lost with its previous process.
   */
  runnerReady(runner: RunnerSession, held: readonly string[]): void {
    for (const id of held) {
      const job = this.#store.get(id);
      if (job?.status !== 'running' || job.runner_id !== runner.name) continue;
      this.#clearLease(id);
      runner.running.add(id);
    }
    for (const id of [...this.#leases.keys()]) {
      if (this.#store.get(id)?.runner_id === runner.name && !runner.running.has(id)) {
        this.#clearLease(id);
        this.#requeueLost(id, runner.name);
      }
    }
    this.#runners.add(runner);
    this.#pump();
  }

  /** A runner's socket closed: its offers go back to the queue, its running jobs wait a lease. */
  runnerGone(runner: RunnerSession): void {
    this.#runners.delete(runner);
    for (const id of runner.offered) {
      this.#clearOfferTimer(id);
      this.#enqueue(id, true);
    }
    runner.offered.clear();
    for (const id of runner.running) this.#startLease(id);
    runner.running.clear();
    this.#pump();
  }

  accepted(runner: RunnerSession, id: string): void {
    if (!runner.offered.delete(id)) {
      this.#options.log('warn', 'accept for a job not offered', { runner: runner.name, job: id });
      return;
    }
    this.#clearOfferTimer(id);
    clearTimeout(this.#queueTimers.get(id));
    this.#queueTimers.delete(id);
    const job = this.#store.get(id);
    if (job?.status !== 'queued') {
      runner.send({ type: 'cancel', job_id: id });
      return;
    }
    runner.running.add(id);
    const now = new Date();
    this.#store.transition(id, 'running', {
      runner_id: runner.name,
      attempt: job.attempt + 1,
      started_at: now.toISOString(),
      timings: { ...job.timings, queue_ms: now.getTime() - Date.parse(job.created_at) },
    });
  }

  rejected(runner: RunnerSession, id: string, reason: string): void {
    if (!runner.offered.delete(id)) return;
    this.#clearOfferTimer(id);
    this.#options.log('info', 'runner rejected a job', { runner: runner.name, job: id, reason });
    this.#refuse(id, runner);
    this.#enqueue(id, true);
    this.#pump();
  }

  output(runner: RunnerSession, id: string, event: OutputEvent): void {
    if (!runner.running.has(id)) return;
    for (const watcher of this.#watchers.get(id) ?? []) watcher.output?.(event);
  }

  done(
    runner: RunnerSession,
    id: string,
    result?: RunResult,
    error?: { code: string; message: string },
  ): void {
    if (!runner.running.delete(id)) {
      this.#options.log('warn', 'result for a job the runner does not hold', {
        runner: runner.name,
        job: id,
      });
      return;
    }
    const job = this.#store.get(id);
    if (job?.status === 'running') {
      const finished = new Date();
      const total_ms = finished.getTime() - Date.parse(job.created_at);
      if (result) {
        const { compile, wall_ms, truncated: _truncated, files, ...run } = result;
        this.#finish(id, result.reason === 'cancelled' ? 'cancelled' : 'done', {
          ...run,
          compile: compile ?? null,
          output_files: files ?? [],
          finished_at: finished.toISOString(),
          timings: { ...job.timings, run_ms: wall_ms, compile_ms: compile?.wall_ms ?? null, total_ms },
        });
      } else {
        this.#finish(id, 'failed', {
          error: error ?? { code: 'sandbox_failed', message: 'the runner sent no result' },
          finished_at: finished.toISOString(),
          timings: { ...job.timings, total_ms },
        });
      }
    }
    this.#pump();
  }

  /**
   * Cancels a job. A queued one ends at once; a running one is killed by its runner, and ends
   * when the runner reports it (or at once if its runner is gone). Finished jobs are unchanged.
   */
  cancel(id: string): JobRecord {
    const job = this.#store.get(id);
    if (!job) throw new CodeexecError('not_found', `No job ${id}`);
    if (job.status === 'queued') {
      const index = this.#queue.indexOf(id);
      if (index !== -1) this.#queue.splice(index, 1);
      for (const runner of this.#runners) {
        if (runner.offered.has(id)) runner.send({ type: 'cancel', job_id: id });
      }
      return this.#finish(id, 'cancelled', { reason: 'cancelled', finished_at: new Date().toISOString() });
    }
    if (job.status === 'running') {
      const runner = [...this.#runners].find((r) => r.running.has(id));
      if (runner) runner.send({ type: 'cancel', job_id: id });
      else {
        this.#clearLease(id);
        return this.#finish(id, 'cancelled', { reason: 'cancelled', finished_at: new Date().toISOString() });
      }
    }
    return job;
  }

  close(): void {
    for (const timers of [this.#queueTimers, this.#offerTimers, this.#leases]) {
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
    }
  }

  #startLease(id: string): void {
    if (this.#leases.has(id)) return;
    const timer = setTimeout(() => {
      this.#leases.delete(id);
      this.#requeueLost(id, this.#store.get(id)?.runner_id ?? 'unknown');
      this.#pump();
    }, this.#options.leaseMs);
    timer.unref();
    this.#leases.set(id, timer);
  }

  #clearLease(id: string): void {
    clearTimeout(this.#leases.get(id));
    this.#leases.delete(id);
  }

  #enqueue(id: string, front = false): void {
    if (front) this.#queue.unshift(id);
    else this.#queue.push(id);
    if (!this.#queueTimers.has(id)) {
      const timer = setTimeout(() => this.#queueTimeout(id), this.#options.queueTimeoutMs);
      timer.unref();
      this.#queueTimers.set(id, timer);
    }
  }

  #queueTimeout(id: string): void {
    this.#queueTimers.delete(id);
    const index = this.#queue.indexOf(id);
    if (index === -1) return; // offered or running by now
    this.#queue.splice(index, 1);
    const job = this.#store.get(id);
    const seconds = this.#options.queueTimeoutMs / 1000;
    this.#finish(id, 'failed', {
      error: {
        code: 'no_runner',
        message: `No runner offering ${job?.lang ?? 'this language'} took the job within ${seconds} s`,
      },
      finished_at: new Date().toISOString(),
    });
  }

  /** Offers queued jobs to runners, in queue order, while any runner can take them. */
  #pump(): void {
    for (let i = 0; i < this.#queue.length; ) {
      const id = this.#queue[i]!;
      const job = this.#store.get(id);
      if (job?.status !== 'queued') {
        this.#queue.splice(i, 1);
        continue;
      }
      const runner = this.#pickRunner(job);
      if (!runner) {
        i++;
        continue;
      }
      this.#queue.splice(i, 1);
      this.#offer(runner, job);
    }
  }

  #pickRunner(job: JobRecord): RunnerSession | undefined {
    const refused = this.#refusedBy.get(job.id);
    let best: RunnerSession | undefined;
    for (const runner of this.#runners) {
      if (runner.state !== 'ready' || runner.freeSlots <= 0 || !runner.offers(job.lang)) continue;
      if (refused?.has(runner)) continue;
      if (!job.labels.every((label) => runner.labels.includes(label))) continue;
      if (!best || runner.load / runner.slots < best.load / best.slots) best = runner;
    }
    return best;
  }

  #offer(runner: RunnerSession, job: JobRecord): void {
    const offered: OfferedJob = {
      id: job.id,
      lang: job.lang,
      code: job.code,
      stdin: job.stdin,
      args: job.args,
      files: job.files,
      limits: job.limits,
      compile_limits: job.compile_limits,
    };
    runner.offered.add(job.id);
    const timer = setTimeout(() => {
      this.#options.log('warn', 'runner did not answer an offer in time', {
        runner: runner.name,
        job: job.id,
      });
      this.rejected(runner, job.id, 'offer timed out');
    }, this.#options.offerTimeoutMs);
    timer.unref();
    this.#offerTimers.set(job.id, timer);
    if (!runner.send({ type: 'offer', job: offered })) {
      this.#options.log('warn', 'offer delayed by backpressure', { runner: runner.name, job: job.id });
    }
  }

  /** The job's runner is gone for good: run it again elsewhere (an infrastructure failure). */
  #requeueLost(id: string, runnerName: string): void {
    const job = this.#store.get(id);
    if (job?.status !== 'running') return;
    this.#options.log('warn', 'runner lost while running a job', { runner: runnerName, job: id });
    if (job.attempt < this.#options.maxAttempts) {
      this.#store.transition(id, 'queued', { runner_id: null, started_at: null });
      this.#enqueue(id, true);
      return;
    }
    this.#finish(id, 'failed', {
      error: { code: 'runner_lost', message: `The runner went away during attempt ${job.attempt}` },
      finished_at: new Date().toISOString(),
    });
  }

  #refuse(id: string, runner: RunnerSession): void {
    const refused = this.#refusedBy.get(id) ?? new Set();
    refused.add(runner);
    this.#refusedBy.set(id, refused);
  }

  #clearOfferTimer(id: string): void {
    clearTimeout(this.#offerTimers.get(id));
    this.#offerTimers.delete(id);
  }

  #finish(id: string, to: 'done' | 'failed' | 'cancelled', patch: Partial<JobRecord>): JobRecord {
    const job = this.#store.transition(id, to, patch);
    clearTimeout(this.#queueTimers.get(id));
    this.#queueTimers.delete(id);
    this.#refusedBy.delete(id);
    const watchers = this.#watchers.get(id);
    this.#watchers.delete(id);
    for (const watcher of watchers ?? []) watcher.end(job);
    return job;
  }
}

export function isFinished(job: JobRecord): boolean {
  return job.status === 'done' || job.status === 'failed' || job.status === 'cancelled';
}
