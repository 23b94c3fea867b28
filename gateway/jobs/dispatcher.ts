// The dispatcher: the shell around the pure scheduler. It carries out what scheduler.ts decides —
// offers queued jobs to runners, adopts accepted ones, relays their output, stores their ends,
// and re-queues the jobs of a runner that went away (an infrastructure failure: attempt + 1, up
// to a cap) — keeping the job book, the runner registry and the queue consistent, and telling
// JobEvents (and through the bus, every watcher) what happened.
//
// ~500 lines, past the ~350 the project aims for, on purpose: it is one short method per thing that
// can happen to a job (a submission, each runner frame, a runner coming or going, a timeout, a
// cancel), and reading them side by side is what shows that the book, the registry and the queue
// stay in step. The decisions are in scheduler.ts, the state moves in job-lifecycle.ts; following
// a job is job-watch.ts, taking jobs in after a restart or from a dead gateway job-takeover.ts,
// handing queued jobs to another gateway queue-handoff.ts.
import {
  CodeexecError,
  type JobRecord,
  type Logger,
  type RunResult,
  type StageResult,
} from '../../shared/index.js';
import type { Bus, ControlMessage } from '../bus/bus.js';
import type { JobEvents, OutputEvent, Watcher } from '../events/job-events.js';
import { jobFields } from '../events/log-events.js';
import type { QueuedHere } from '../fleet/handoff.js';
import type { OutputLogs } from '../output/output-log.js';
import type { ReliabilityBook } from '../runners/reliability-book.js';
import type { RunnerConnection } from '../runners/runner-connection.js';
import type { RunnerRegistry } from '../runners/runner-registry.js';
import type { Clock } from '../scheduling/clock.js';
import { DEFAULT_DONOR_MAX, type DonorMax } from '../scheduling/donor-limits.js';
import { JobQueue } from '../scheduling/job-queue.js';
import { afterRunnerLost, plan, type SchedJob, waitVerdict } from '../scheduling/scheduler.js';
import type { JobBook } from './job-book.js';
import { JobInput } from './job-input.js';
import { JobLifecycle } from './job-lifecycle.js';
import { JobTakeover } from './job-takeover.js';
import { isFinished, JobWatch } from './job-watch.js';
import { offeredJob } from './offered-job.js';
import { QueueHandoff } from './queue-handoff.js';
import { storedResult } from './stored-result.js';
import { Verifier } from './verifier.js';

export interface DispatcherOptions {
  book: JobBook;
  registry: RunnerRegistry;
  events: JobEvents;
  bus: Bus;
  clock: Clock;
  log: Logger;
  /** How long a job may wait for a runner (unless it says otherwise) before the scheduler judges. */
  queueTimeoutMs: number;
  /** Attempts per job; a job whose runner vanished is re-queued until this many. */
  maxAttempts: number;
  /** Most bytes stored per stdout/stderr/output field of a result; past it the text is cut. */
  storeOutputBytes: number;
  /**
   * Offer a job only once it is durable, so a crash between the offer and the write cannot lose
   * a job a runner is already running.
   */
  durableBeforeOffer: boolean;
  /** What donors may be asked for (CODEEXEC_DONOR_MAX_*); a job asking more runs on trusted runners. */
  donorMax?: DonorMax;
  /** Reliability of runner identities (verified jobs update it; the scheduler reads it). */
  reliability: ReliabilityBook;
  /** Every job's output, numbered and kept (bounded) for clients that resume. */
  output: OutputLogs;
}

/** How often at most a gateway tells the others that its runners have room (#announceRoom). */
const ROOM_ANNOUNCE_MS = 250;

export class Dispatcher {
  readonly #o: DispatcherOptions;
  readonly #queue: JobQueue;
  /** How jobs change state (book, queue, registry, events in step). */
  readonly #life: JobLifecycle;
  /** When each client last had a job offered (a counter): fair share serves the others first. */
  readonly #lastServed = new Map<string, number>();
  #served = 0;
  /** Interactive input, held until a runner accepts the job. */
  readonly #input: JobInput;
  /** Verified jobs: their replicas, and the quorum over their results. */
  readonly #verifier: Verifier;
  /** Runs before queued jobs are offered: client sessions waiting for a slot go first. */
  #beforePump: () => void = () => {};
  /** Asks the fleet for a job a runner reported held that this gateway does not know (or null). */
  #claimHeld: ((runner: RunnerConnection, id: string) => void) | null = null;
  readonly #unsubscribe: (() => void)[] = [];
  #onQueued: () => void = () => {};
  #pumpPending = false;
  /** When this gateway last told the others it has room (see #announceRoom). */
  #roomAnnouncedAt = Number.NEGATIVE_INFINITY;
  readonly #watch: JobWatch;
  readonly #handoff: QueueHandoff;
  readonly #takeover: JobTakeover;

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.#queue = new JobQueue(options.clock, (id) => this.#queueTimeout(id));
    this.#input = new JobInput(options.registry);
    this.#watch = new JobWatch(options);
    this.#life = new JobLifecycle({
      ...options,
      queue: this.#queue,
      input: this.#input,
      donorMax: options.donorMax ?? DEFAULT_DONOR_MAX,
      avoidFor: (job) => this.#verifier.avoidFor(job),
    });
    this.#handoff = new QueueHandoff({
      ...options,
      queue: this.#queue,
      input: this.#input,
      life: this.#life,
      pump: () => this.pump(),
    });
    this.#verifier = new Verifier({ ...options, life: this.#life, enqueue: (job) => this.enqueue(job) });
    this.#takeover = new JobTakeover({
      ...options,
      queue: this.#queue,
      life: this.#life,
      verifier: this.#verifier,
      startLease: (id, runner) => this.#startLease(id, runner),
      pump: () => this.pump(),
      done: (runner, id, result, error) => this.done(runner, id, result, error),
    });
    this.#unsubscribe.push(
      options.bus.onControl((id, message) => this.#onControl(id, message)),
      options.bus.onWake(() => this.pump()),
    );
  }

  /**
   * Picks up what a previous gateway process left: queued jobs go back in the queue; running
   * ones wait a lease for their runner to reconnect and report them held.
   */
  async recover(): Promise<void> {
    this.#takeover.takeIn(await this.#o.book.load(), false);
  }

  /**
   * Takes over unfinished jobs claimed from gateways whose lease ran out (job-takeover.ts).
   */
  takeOver(jobs: readonly JobRecord[]): void {
    this.#takeover.takeOver(jobs);
  }

  /**
   * Lets go of jobs another gateway claimed while this one's lease had run out (fleet-keeper.ts):
   * out of the queue and the book, and off their runner here, which drops them. Nothing is
   * stored or told: their new owner answers for them.
   */
  letGo(ids: readonly string[]): void {
    const { book, registry, log } = this.#o;
    for (const id of ids) {
      if (book.get(id) === undefined) continue;
      this.#queue.drop(id);
      registry.clearLease(id);
      const runner = registry.holderOf(id);
      if (runner !== undefined) {
        registry.answered(runner, id);
        registry.release(runner, id);
        runner.send({ type: 'cancel', job_id: id });
      }
      this.#input.forget(id);
      book.drop(id);
      log.warn({ job_id: id }, 'another gateway took this job while this one was cut off; let go of it');
    }
    this.#life.depth();
    this.pump();
  }

  /** The fleet will not give this gateway a job `runner` reported held: the runner drops it. */
  heldClaimRefused(runner: RunnerConnection, id: string): void {
    this.#takeover.refused(runner, id);
  }

  /**
   * With a fleet, a job a runner reports held that this gateway does not know is asked for
   * (`claim`, which answers with takeOver or heldClaimRefused) instead of dropped at once.
   */
  setClaimHeld(claim: (runner: RunnerConnection, id: string) => void): void {
    this.#claimHeld = claim;
  }

  /**
   * Queues a job just added to the book: offered once it is durable (durableBeforeOffer). A
   * verified job is not offered itself: its replicas are.
   */
  enqueue(job: JobRecord): void {
    this.#o.events.emit('job.queued', { job });
    this.#whenDurable(job.id, () => {
      if (Verifier.verifies(job)) {
        this.#verifier.begin(job);
        return;
      }
      this.#queue.add(job.id, this.#life.timeoutOf(job));
      this.#life.depth();
      this.#pumpSoon();
      this.#onQueued();
    });
  }

  /** `then` runs whenever a job joined the queue (the fleet keeper may hand it elsewhere). */
  setOnQueued(then: () => void): void {
    this.#onQueued = then;
  }

  /** Offers a session's execution to the runner that holds the session's sandbox. */
  runInSession(runner: RunnerConnection, id: string): void {
    this.#whenDurable(id, () => {
      if (this.#o.registry.get(runner.name) !== runner) {
        this.#life.finish(id, 'failed', {
          error: { code: 'runner_lost', message: "The session's runner went away" },
        });
        return;
      }
      this.#offer(runner, this.#o.book.get(id)!);
    });
  }

  /** Ends a job that no runner has yet (a session's waiting execution whose session ended). */
  failQueued(id: string, error: { code: string; message: string }): void {
    if (this.#o.book.get(id)?.status !== 'queued' || this.#o.registry.isOffered(id)) return;
    this.#life.finish(id, 'failed', { error });
  }

  /** `place` runs on every scheduling pass, before queued jobs are offered (session placement). */
  setBeforePump(place: () => void): void {
    this.#beforePump = place;
  }

  /** Resolves with the job once it is done, failed or cancelled (job-watch.ts). */
  wait(id: string): Promise<JobRecord> {
    return this.#watch.wait(id);
  }

  /** Follows a job until it ends, here or on another gateway (job-watch.ts). */
  watch(id: string, watcher: Watcher): () => void {
    return this.#watch.watch(id, watcher);
  }

  /**
   * A runner said hello. Jobs it reports held are its again (their results will come); jobs the
   * gateway thought it was running but it does not hold were lost with its previous process.
   */
  runnerReady(runner: RunnerConnection, held: readonly string[]): void {
    const { book, registry } = this.#o;
    for (const id of held) {
      if (book.get(id) === undefined && this.#claimHeld !== null) {
        // Another gateway's, perhaps one that died: asked for, and meanwhile left running.
        this.#takeover.claims.add(id, runner);
        this.#claimHeld(runner, id);
      } else {
        this.#takeover.reclaim(runner, id);
      }
    }
    for (const id of registry.leasedTo(runner.name)) {
      if (!runner.running.has(id)) {
        registry.clearLease(id);
        this.#life.lost(id, runner.name, 'its runner came back without it');
      }
    }
    registry.join(runner);
    this.pump();
  }

  /**
   * A runner's socket closed: its offers go back to the queue. Its running jobs wait a lease for
   * it to come back, unless it left for good (`final`), when they are re-queued at once.
   */
  runnerGone(runner: RunnerConnection, final: boolean, reason: string): void {
    const inSession = new Set(runner.sessionJobs);
    this.#takeover.claims.dropRunner(runner);
    const { offered, running } = this.#o.registry.leave(runner, final, reason);
    for (const id of offered) {
      if (inSession.has(id)) this.#life.sessionLost(id);
      else this.#queue.add(id, this.#life.timeoutOf(this.#o.book.get(id)), true);
    }
    for (const id of running) {
      // A session's sandbox does not outlive its runner's socket: nothing to wait for.
      if (inSession.has(id)) this.#life.sessionLost(id);
      else if (final) this.#life.lost(id, runner.name, 'its runner left');
      else this.#startLease(id, runner.name);
    }
    runner.sessionJobs.clear();
    runner.sessions.clear();
    this.#life.depth();
    this.pump();
  }

  accepted(runner: RunnerConnection, id: string): void {
    if (!this.#o.registry.answered(runner, id)) {
      this.#o.log.warn({ job_id: id, runner_id: runner.name }, 'accept for a job not offered');
      return;
    }
    if (this.#o.book.get(id)?.status !== 'queued') {
      runner.send({ type: 'cancel', job_id: id });
      return;
    }
    this.#life.adopt(runner, id);
  }

  rejected(runner: RunnerConnection, id: string, reason: string): void {
    const inSession = runner.sessionJobs.delete(id);
    if (!this.#o.registry.answered(runner, id)) return;
    this.#o.log.info({ ...this.#fields(id), runner_id: runner.name, reason }, 'runner rejected a job');
    if (inSession) {
      // Only that runner holds the session's sandbox: there is nobody else to ask.
      this.#life.finish(id, 'failed', {
        error: { code: 'runner_rejected', message: `The session's runner rejected the execution: ${reason}` },
      });
    } else if (this.#o.book.get(id)?.status === 'queued') {
      this.#life.refused(id, runner.name);
    }
    this.pump();
  }

  /**
   * The runner handed back a job it accepted (its owner suspended it): the job waits again, at
   * the front, and the attempt does not count.
   */
  handedBack(runner: RunnerConnection, id: string, reason: string): void {
    if (!this.#o.registry.release(runner, id)) return;
    const job = this.#o.book.get(id);
    if (job?.status === 'running') this.#life.requeue(job, runner.name, `handed back: ${reason}`, false);
    this.pump();
  }

  output(runner: RunnerConnection, id: string, event: OutputEvent): void {
    if (!runner.running.has(id)) return;
    const job = this.#o.book.get(id);
    if (job === undefined) return;
    // The log numbers the chunk for the job (and notes chunks the runner's link lost).
    for (const entry of this.#o.output.append(id, job.attempt, event)) {
      this.#o.events.publish(
        job,
        entry.kind === 'chunk' ? { type: 'output', event: entry.event } : { type: 'gap', gap: entry.gap },
      );
    }
  }

  stage(runner: RunnerConnection, id: string, stage: 'compile' | 'run', compile?: StageResult): void {
    if (!runner.running.has(id)) return;
    const job = this.#o.book.get(id);
    if (job) this.#o.events.publish(job, { type: 'stage', stage, ...(compile ? { compile } : {}) });
  }

  done(
    runner: RunnerConnection,
    id: string,
    result?: RunResult,
    error?: { code: string; message: string },
  ): void {
    if (!this.#o.registry.release(runner, id)) {
      // Under claim: taken once the fleet answers.
      if (
        this.#takeover.claims.keepDone(id, runner, {
          ...(result ? { result } : {}),
          ...(error ? { error } : {}),
        })
      )
        return;
      this.#o.log.warn({ job_id: id, runner_id: runner.name }, 'result for a job the runner does not hold');
      return;
    }
    const job = this.#o.book.get(id);
    if (job?.status === 'running') {
      const total_ms = this.#o.clock.now() - Date.parse(job.created_at);
      if (result) {
        runner.jobsDone++;
        this.#life.finish(id, result.reason === 'cancelled' ? 'cancelled' : 'done', {
          ...storedResult(result, this.#o.storeOutputBytes),
          timings: {
            ...job.timings,
            run_ms: result.wall_ms,
            compile_ms: result.compile?.wall_ms ?? null,
            total_ms,
          },
        });
      } else if (
        error?.code === 'sandbox_failed' &&
        afterRunnerLost(job, this.#o.maxAttempts) === 'requeue'
      ) {
        // The engine failed under the job (not the program): run it again, as for a lost runner.
        this.#life.requeue(job, runner.name, `sandbox failed: ${error.message}`);
      } else {
        this.#life.finish(id, 'failed', {
          error: error ?? { code: 'sandbox_failed', message: 'the runner sent no result' },
          timings: { ...job.timings, total_ms },
        });
      }
    }
    this.pump();
    this.#announceRoom();
  }

  /**
   * Input for an interactive job (stdin, its end, a signal), routed through the bus to the
   * process that holds it: straight to its runner, or held (bounded) until a runner accepts it.
   * A job this process holds gets it before the call returns (input keeps its order); rejects
   * with job_finished, not_found (no process took it) or the holder's refusal.
   */
  async control(id: string, input: Exclude<ControlMessage, { type: 'cancel' }>): Promise<void> {
    const job = this.#o.book.get(id);
    if (job !== undefined && isFinished(job)) {
      throw new CodeexecError('job_finished', `Job ${id} already ended as ${job.status}`);
    }
    if (!(await this.#o.bus.control(id, input))) {
      throw new CodeexecError('not_found', `No unfinished job ${id}`);
    }
  }

  /**
   * Cancels a job. A queued one ends at once; a running one is killed by its runner, and ends
   * when the runner reports it (or at once if its runner is gone). Finished jobs are unchanged.
   */
  cancel(id: string): JobRecord | undefined {
    if (this.#o.book.get(id) === undefined) {
      // Not this process's: whichever holds it cancels it (a finished job is left as it is).
      // Nobody waits for the answer: the job's end reaches its watchers as usual.
      this.#o.bus.control(id, { type: 'cancel' }).catch((err: unknown) => {
        this.#o.log.warn({ job_id: id, err }, 'cancel through the bus failed');
      });
      return undefined;
    }
    return this.#life.cancel(id);
  }

  /** One scheduling pass for the jobs queued in this turn of the event loop. */
  #pumpSoon(): void {
    if (this.#pumpPending) return;
    this.#pumpPending = true;
    queueMicrotask(() => {
      this.#pumpPending = false;
      this.pump();
    });
  }

  /**
   * A runner has a free slot and nothing here waits for it: the other gateways are woken (at most
   * every ROOM_ANNOUNCE_MS), so one with a backlog may hand some of it here.
   */
  #announceRoom(): void {
    if (this.#queue.size > 0 || !this.#o.registry.hasFreeSlot) return;
    const now = this.#o.clock.now();
    if (now - this.#roomAnnouncedAt < ROOM_ANNOUNCE_MS) return;
    this.#roomAnnouncedAt = now;
    this.#o.bus.wake();
  }

  /** Offers what can be offered now: the scheduler's plan, carried out. */
  pump(): void {
    this.#beforePump();
    const { registry, book } = this.#o;
    if (this.#queue.size === 0 || !registry.hasFreeSlot) return;
    const queue: SchedJob[] = [];
    const stale = new Set<string>();
    for (const entry of this.#queue.entries()) {
      const job = book.get(entry.id);
      if (job?.status !== 'queued') {
        stale.add(entry.id);
        continue;
      }
      queue.push(this.#life.schedJob(job, entry.requeued));
    }
    this.#queue.takeAll(stale);
    const offers = plan({
      queue,
      runners: registry.views(),
      running: book.runningByClient,
      lastServed: this.#lastServed,
    });
    this.#queue.takeAll(new Set(offers.map((offer) => offer.jobId)));
    for (const { jobId, runnerId } of offers) {
      const job = book.get(jobId)!;
      this.#lastServed.set(job.client ?? '', ++this.#served);
      this.#offer(registry.get(runnerId)!, job);
    }
    if (offers.length > 0) this.#life.depth();
  }

  /** Queued jobs free to move to another gateway of the fleet (queue-handoff.ts). */
  movable(): QueuedHere[] {
    return this.#handoff.movable();
  }

  /** Hands queued jobs to another gateway of the fleet (queue-handoff.ts). */
  handOff(ids: readonly string[], move: (ids: string[]) => Promise<string[]>): Promise<string[]> {
    return this.#handoff.handOff(ids, move);
  }

  /** Jobs waiting for a runner, by language (verified jobs count by their replicas). */
  queuedByLanguage(): Map<string, number> {
    const depth = new Map<string, number>();
    for (const { id } of this.#queue.entries()) {
      const lang = this.#o.book.get(id)?.lang;
      if (lang !== undefined) depth.set(lang, (depth.get(lang) ?? 0) + 1);
    }
    return depth;
  }

  close(): void {
    this.#queue.close();
    this.#verifier.close();
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
  }

  #onControl(id: string, message: ControlMessage): boolean {
    const job = this.#o.book.get(id);
    if (job === undefined) return false;
    if (message.type === 'cancel') {
      this.cancel(id);
      return true;
    }
    this.#input.deliver(id, message);
    return true;
  }

  #offer(runner: RunnerConnection, job: JobRecord): void {
    this.#o.registry.offer(runner, job.id, job.session_id !== null, () => {
      this.#o.log.warn(
        { ...jobFields(job), runner_id: runner.name },
        'runner did not answer an offer in time',
      );
      this.rejected(runner, job.id, 'offer timed out');
    });
    if (!runner.send({ type: 'offer', job: offeredJob(job) })) {
      this.#o.log.warn({ ...jobFields(job), runner_id: runner.name }, 'offer delayed by backpressure');
    }
  }

  /** A job's log fields, or its id alone when the book no longer has it. */
  #fields(id: string): Record<string, unknown> {
    const job = this.#o.book.get(id);
    return job === undefined ? { job_id: id } : jobFields(job);
  }

  #startLease(id: string, runnerName: string): void {
    this.#o.registry.startLease(id, runnerName, () => {
      this.#life.lost(id, runnerName, 'its lease ran out');
      this.pump();
    });
  }

  #queueTimeout(id: string): void {
    if (!this.#queue.has(id)) return; // offered or running by now
    const job = this.#o.book.get(id);
    if (job?.status !== 'queued') return;
    const timeoutMs = this.#life.timeoutOf(job);
    const verdict = waitVerdict(this.#life.schedJob(job, false), this.#o.registry.views(), timeoutMs);
    if (verdict.wait) {
      this.#queue.rearm(id, timeoutMs);
      this.#o.events.emit('job.waiting', { job, because: verdict.because });
      return;
    }
    this.#life.finish(id, 'failed', { error: verdict.error });
  }

  /** Calls `then` once the job is durable (at once without durableBeforeOffer), if still queued. */
  #whenDurable(id: string, then: () => void): void {
    if (!this.#o.durableBeforeOffer) {
      then();
      return;
    }
    void this.#o.book.durable(id).then(() => {
      // It may have been cancelled while the write was under way.
      if (this.#o.book.get(id)?.status === 'queued') then();
    });
  }
}
