// The queue and the scheduler: takes accepted jobs, offers each to the least-loaded runner that
// has its language and a free slot, tracks accept/reject, output and results, and re-queues the
// jobs of a runner that goes away (an infrastructure failure, so attempt + 1, up to a cap).
import {
  type AsyncRequest,
  CodeexecError,
  type JobRecord,
  type Logger,
  type OfferedJob,
  type RunResult,
  type Signal,
  type StageResult,
} from '../../shared/index.js';
import type { RunnerSession } from '../runners/runner-session.js';
import { JobQueue } from '../scheduling/job-queue.js';
import type { JobStore } from '../store/job-store.js';
import type { Admission } from './admission.js';
import { type NewJobOptions, newJob } from './new-job.js';
import { storedResult } from './stored-result.js';

export interface DispatcherOptions {
  store: JobStore;
  log: Logger;
  /**
   * How long a job may wait while no connected runner could ever take it (language, labels)
   * before it fails with no_runner. Busy runners that could take it keep it waiting.
   */
  queueTimeoutMs: number;
  /** How long a runner has to accept or reject an offer. */
  offerTimeoutMs: number;
  /** Attempts per job; a job whose runner vanished is re-queued until this many. */
  maxAttempts: number;
  /** How long a running job waits for its vanished runner to come back before it is re-queued. */
  leaseMs: number;
  /** The queue bound and the per-client cap, checked on every submission. */
  admission: Admission;
  /** Most bytes stored per stdout/stderr/output field of a result; past it the text is cut. */
  storeOutputBytes: number;
  /**
   * Offer a job only once it is on disk, so a crash between the offer and the next write cannot
   * lose a job a runner is already running. Costs one (coalesced) store write per submission.
   */
  durableBeforeOffer: boolean;
  /** Called once when a job ends (done, failed or cancelled): callbacks hang here. */
  onFinish?: (job: JobRecord) => void;
}

export interface OutputEvent {
  stream: 'stdout' | 'stderr';
  seq: number;
  data: string;
}

/** Interactive input for a running job, as the runner protocol carries it. */
export type ControlFrame =
  | { type: 'stdin'; job_id: string; data: string }
  | { type: 'stdin_eof'; job_id: string }
  | { type: 'signal'; job_id: string; signal: Signal };

/** How much input may wait for a job that has not started yet. */
const MAX_PENDING_INPUT_BYTES = 1024 * 1024;

/** Someone following a job live: its start (accepted by a runner), its stages, its output, its end. */
export interface Watcher {
  start?: (job: JobRecord) => void;
  /** A compiled language's run stage begins: output from here on is the program's. */
  stage?: (stage: 'compile' | 'run', compile?: StageResult) => void;
  output?: (event: OutputEvent) => void;
  end: (job: JobRecord) => void;
}

export class Dispatcher {
  readonly #options: DispatcherOptions;
  readonly #runners = new Set<RunnerSession>();
  /** Job ids waiting for a runner, in order. */
  readonly #queue: JobQueue;
  readonly #offerTimers = new Map<string, NodeJS.Timeout>();
  /** Runners that refused a job, so it is not offered to them again. */
  readonly #refusedBy = new Map<string, Set<RunnerSession>>();
  readonly #watchers = new Map<string, Set<Watcher>>();
  /** Running jobs whose runner is gone: re-queued when the lease runs out, unless it comes back. */
  readonly #leases = new Map<string, NodeJS.Timeout>();
  /** Interactive input that arrived before a runner accepted the job: sent on accept. */
  readonly #pendingControl = new Map<string, { frames: ControlFrame[]; bytes: number }>();
  /** Runs before queued jobs are offered: client sessions waiting for a slot go first. */
  #beforePump: () => void = () => {};

  constructor(options: DispatcherOptions) {
    this.#options = options;
    this.#queue = new JobQueue(options.queueTimeoutMs, (id) => this.#queueTimeout(id));
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
      if (job.session_id !== null) {
        // Its session's sandbox ended with the client socket that held it.
        this.#finish(job.id, 'failed', {
          error: { code: 'session_closed', message: 'The gateway restarted; the session it ran in is gone' },
          finished_at: new Date().toISOString(),
        });
      } else if (job.status === 'running') this.#startLease(job.id);
      else this.#queue.add(job.id);
    }
    this.#pump();
  }

  /**
   * Stores a new job as queued and queues it. Throws too_many_jobs or queue_full (Admission).
   * `client` is who submitted it (ClientAuth.identify), for the per-client cap.
   */
  submit(request: AsyncRequest, lang: string, interactive = false, client: string | null = null): JobRecord {
    const job = this.#admit(request, { lang, interactive, client });
    this.#whenDurable(job.id, () => {
      this.#queue.add(job.id);
      this.#pump();
    });
    return job;
  }

  /**
   * Stores an execution of a client session as queued, under the same checks as submit. It is
   * not queued for any runner: runInSession offers it when its session's turn comes.
   */
  submitToSession(
    request: AsyncRequest,
    lang: string,
    interactive: boolean,
    client: string | null,
    sessionId: string,
  ): JobRecord {
    return this.#admit(request, { lang, interactive, client, sessionId });
  }

  /** Checks the queue bound and the client's cap, then stores the new job as queued. */
  #admit(request: AsyncRequest, options: NewJobOptions): JobRecord {
    this.#options.admission.check(options.client);
    const job = newJob(request, options);
    this.#store.insert(job);
    return job;
  }

  /** Offers a session's execution to the runner that holds the session's sandbox. */
  runInSession(runner: RunnerSession, id: string): void {
    this.#whenDurable(id, () => {
      if (!this.#runners.has(runner)) {
        this.#finish(id, 'failed', {
          error: { code: 'runner_lost', message: "The session's runner went away" },
          finished_at: new Date().toISOString(),
        });
        return;
      }
      this.#offer(runner, this.#store.get(id)!);
    });
  }

  /** Ends a job that no runner has yet (a session's waiting execution whose session ended). */
  failQueued(id: string, error: { code: string; message: string }): void {
    if (this.#store.get(id)?.status !== 'queued' || this.#offeredElsewhere(id)) return;
    this.#finish(id, 'failed', { error, finished_at: new Date().toISOString() });
  }

  /** Calls `then` once the job is on disk (at once without durableBeforeOffer), if still queued. */
  #whenDurable(id: string, then: () => void): void {
    if (!this.#options.durableBeforeOffer) {
      then();
      return;
    }
    void this.#store.flush().then(() => {
      // It may have been cancelled while the write was under way.
      if (this.#store.get(id)?.status === 'queued') then();
    });
  }

  /** `place` runs on every scheduling pass, before queued jobs are offered (session placement). */
  setBeforePump(place: () => void): void {
    this.#beforePump = place;
  }

  /** Offers what can be offered now (a session ended and freed a slot, say). */
  pump(): void {
    this.#pump();
  }

  /** The least-loaded ready runner with a free slot, the language and the labels; none: undefined. */
  pickRunner(
    lang: string,
    labels: readonly string[] = [],
    refused?: Set<RunnerSession>,
  ): RunnerSession | undefined {
    let best: RunnerSession | undefined;
    for (const runner of this.#runners) {
      if (runner.state !== 'ready' || runner.freeSlots <= 0 || !runner.offers(lang)) continue;
      if (refused?.has(runner)) continue;
      if (!labels.every((label) => runner.labels.includes(label))) continue;
      if (!best || runner.load / runner.slots < best.load / best.slots) best = runner;
    }
    return best;
  }

  /** Resolves with the job once it is done, failed or cancelled. */
  wait(id: string): Promise<JobRecord> {
    const job = this.#store.get(id);
    if (!job) return Promise.reject(new CodeexecError('not_found', `no job ${id}`));
    if (isFinished(job)) return Promise.resolve(job);
    return new Promise((resolve) => this.watch(id, { end: resolve }));
  }

  /** Follows a job until it ends. Returns the function that stops following it. */
  watch(id: string, watcher: Watcher): () => void {
    const job = this.#store.get(id);
    if (job && isFinished(job)) {
      watcher.end(job);
      return () => {};
    }
    const watchers = this.#watchers.get(id) ?? new Set();
    watchers.add(watcher);
    this.#watchers.set(id, watchers);
    return () => {
      watchers.delete(watcher);
    };
  }

  /**
   * A runner said hello. Jobs it reports held are its again (their results will come); jobs the
   * store says it was running but it does not hold were lost with its previous process.
   */
  runnerReady(runner: RunnerSession, held: readonly string[]): void {
    for (const id of held) {
      const job = this.#store.get(id);
      if (job?.status === 'running' && job.runner_id === runner.name) {
        this.#clearLease(id);
        runner.running.add(id);
      } else if (job?.status === 'queued' && !this.#offeredElsewhere(id)) {
        // The runner accepted it, but that news was lost (a gateway crash before the write, or
        // a lease that ran out first): it is running there, so it is that runner's again.
        this.#adopt(runner, id);
      } else {
        // Finished, or someone else's by now: the runner must not deliver it.
        runner.send({ type: 'cancel', job_id: id });
      }
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

  /**
   * A runner's socket closed: its offers go back to the queue. Its running jobs wait a lease for
   * it to come back, unless it left for good (`final`: it closed normally, having given up its
   * jobs), when they are re-queued at once.
   */
  runnerGone(runner: RunnerSession, final = false): void {
    this.#runners.delete(runner);
    for (const id of runner.offered) {
      this.#clearOfferTimer(id);
      if (runner.sessionJobs.has(id)) this.#sessionLost(id);
      else this.#queue.add(id, true);
    }
    runner.offered.clear();
    for (const id of runner.running) {
      // A session's sandbox does not outlive its runner's socket: nothing to wait for.
      if (runner.sessionJobs.has(id)) this.#sessionLost(id);
      else if (final) this.#requeueLost(id, runner.name);
      else this.#startLease(id);
    }
    runner.running.clear();
    runner.sessionJobs.clear();
    runner.sessions.clear();
    this.#pump();
  }

  #sessionLost(id: string): void {
    this.#finish(id, 'failed', {
      error: { code: 'runner_lost', message: "The runner holding the job's session went away" },
      finished_at: new Date().toISOString(),
    });
  }

  accepted(runner: RunnerSession, id: string): void {
    if (!runner.offered.delete(id)) {
      this.#options.log('warn', 'accept for a job not offered', { runner: runner.name, job: id });
      return;
    }
    this.#clearOfferTimer(id);
    if (this.#store.get(id)?.status !== 'queued') {
      runner.send({ type: 'cancel', job_id: id });
      return;
    }
    this.#adopt(runner, id);
  }

  /** A queued job becomes `running` on this runner: one more attempt. */
  #adopt(runner: RunnerSession, id: string): void {
    const job = this.#store.get(id)!;
    this.#queue.drop(id);
    runner.running.add(id);
    const now = new Date();
    const started = this.#store.transition(id, 'running', {
      runner_id: runner.name,
      attempt: job.attempt + 1,
      started_at: now.toISOString(),
      timings: { ...job.timings, queue_ms: now.getTime() - Date.parse(job.created_at) },
    });
    for (const watcher of this.#watchers.get(id) ?? []) watcher.start?.(started);
    for (const frame of this.#pendingControl.get(id)?.frames ?? []) runner.send(frame);
    this.#pendingControl.delete(id);
  }

  #offeredElsewhere(id: string): boolean {
    for (const runner of this.#runners) if (runner.offered.has(id)) return true;
    return false;
  }

  rejected(runner: RunnerSession, id: string, reason: string): void {
    if (!runner.offered.delete(id)) return;
    this.#clearOfferTimer(id);
    this.#options.log('info', 'runner rejected a job', { runner: runner.name, job: id, reason });
    if (runner.sessionJobs.delete(id)) {
      // Only that runner holds the session's sandbox: there is nobody else to ask.
      this.#finish(id, 'failed', {
        error: { code: 'runner_rejected', message: `The session's runner rejected the execution: ${reason}` },
        finished_at: new Date().toISOString(),
      });
      this.#pump();
      return;
    }
    this.#refuse(id, runner);
    this.#queue.add(id, true);
    this.#pump();
  }

  output(runner: RunnerSession, id: string, event: OutputEvent): void {
    if (!runner.running.has(id)) return;
    for (const watcher of this.#watchers.get(id) ?? []) watcher.output?.(event);
  }

  stage(runner: RunnerSession, id: string, stage: 'compile' | 'run', compile?: StageResult): void {
    if (!runner.running.has(id)) return;
    for (const watcher of this.#watchers.get(id) ?? []) watcher.stage?.(stage, compile);
  }

  done(
    runner: RunnerSession,
    id: string,
    result?: RunResult,
    error?: { code: string; message: string },
  ): void {
    runner.sessionJobs.delete(id);
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
        this.#finish(id, result.reason === 'cancelled' ? 'cancelled' : 'done', {
          ...storedResult(result, this.#options.storeOutputBytes),
          finished_at: finished.toISOString(),
          timings: {
            ...job.timings,
            run_ms: result.wall_ms,
            compile_ms: result.compile?.wall_ms ?? null,
            total_ms,
          },
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
   * Input for an interactive job (stdin, its end, a signal): straight to its runner, or held
   * (bounded) until a runner accepts the job.
   */
  control(
    id: string,
    input: { type: 'stdin'; data: string } | { type: 'stdin_eof' } | { type: 'signal'; signal: Signal },
  ): void {
    const job = this.#store.get(id);
    if (!job) throw new CodeexecError('not_found', `No job ${id}`);
    if (isFinished(job)) throw new CodeexecError('job_finished', `Job ${id} already ended as ${job.status}`);
    const frame = { ...input, job_id: id } as ControlFrame;
    const runner = [...this.#runners].find((r) => r.running.has(id));
    if (runner) {
      runner.send(frame);
      return;
    }
    const pending = this.#pendingControl.get(id) ?? { frames: [], bytes: 0 };
    pending.bytes += frame.type === 'stdin' ? Buffer.byteLength(frame.data) : 0;
    if (pending.bytes > MAX_PENDING_INPUT_BYTES) {
      throw new CodeexecError(
        'invalid_frame',
        `more than ${MAX_PENDING_INPUT_BYTES} bytes of stdin before the job started`,
      );
    }
    pending.frames.push(frame);
    this.#pendingControl.set(id, pending);
  }

  /**
   * Cancels a job. A queued one ends at once; a running one is killed by its runner, and ends
   * when the runner reports it (or at once if its runner is gone). Finished jobs are unchanged.
   */
  cancel(id: string): JobRecord {
    const job = this.#store.get(id);
    if (!job) throw new CodeexecError('not_found', `No job ${id}`);
    if (job.status === 'queued') {
      this.#queue.drop(id);
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
    this.#queue.close();
    for (const timers of [this.#offerTimers, this.#leases]) {
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

  #queueTimeout(id: string): void {
    if (!this.#queue.has(id)) return; // offered or running by now
    const job = this.#store.get(id);
    if (!job) return;
    if (this.#couldRun(job)) {
      // A backlog is not an outage: runners that can take it are busy, so it keeps its place.
      this.#queue.rearm(id);
      return;
    }
    this.#queue.drop(id);
    this.#finish(id, 'failed', {
      error: this.#whyNotRun(job),
      finished_at: new Date().toISOString(),
    });
  }

  /** Whether a connected runner could ever take the job (a free slot or not). */
  #couldRun(job: JobRecord): boolean {
    const refused = this.#refusedBy.get(job.id);
    for (const runner of this.#runners) {
      if (runner.state !== 'ready' || !runner.offers(job.lang) || refused?.has(runner)) continue;
      if (job.labels.every((label) => runner.labels.includes(label))) return true;
    }
    return false;
  }

  /** The clearest error for a job that waited a whole queue timeout with nobody able to run it. */
  #whyNotRun(job: JobRecord): { code: string; message: string } {
    const seconds = this.#options.queueTimeoutMs / 1000;
    if (job.attempt > 0) {
      return {
        code: 'runner_lost',
        message: `The runner went away during attempt ${job.attempt}, and no other runner took the job within ${seconds} s`,
      };
    }
    if (this.#refusedBy.has(job.id)) {
      return { code: 'runner_rejected', message: `Every runner that could run the job rejected it` };
    }
    const labels = job.labels.length > 0 ? ` with labels ${job.labels.join(', ')}` : '';
    return {
      code: 'no_runner',
      message: `No runner offering ${job.lang}${labels} took the job within ${seconds} s`,
    };
  }

  /** Offers queued jobs to runners, in queue order, while any runner can take them. */
  #pump(): void {
    this.#beforePump();
    for (const id of this.#queue.ids()) {
      const job = this.#store.get(id);
      if (job?.status !== 'queued') {
        this.#queue.take(id);
        continue;
      }
      const runner = this.pickRunner(job.lang, job.labels, this.#refusedBy.get(job.id));
      if (!runner) continue;
      this.#queue.take(id);
      this.#offer(runner, job);
    }
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
      interactive: job.interactive,
      session_id: job.session_id,
    };
    runner.offered.add(job.id);
    if (job.session_id !== null) runner.sessionJobs.add(job.id);
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
    // An interactive job's input went to the lost runner and cannot be replayed: no retry.
    if (job.attempt < this.#options.maxAttempts && !job.interactive && job.session_id === null) {
      this.#store.transition(id, 'queued', { runner_id: null, started_at: null });
      this.#queue.add(id, true);
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
    this.#queue.drop(id);
    this.#refusedBy.delete(id);
    this.#pendingControl.delete(id);
    const watchers = this.#watchers.get(id);
    this.#watchers.delete(id);
    for (const watcher of watchers ?? []) watcher.end(job);
    this.#options.onFinish?.(job);
    return job;
  }
}

export function isFinished(job: JobRecord): boolean {
  return job.status === 'done' || job.status === 'failed' || job.status === 'cancelled';
}
