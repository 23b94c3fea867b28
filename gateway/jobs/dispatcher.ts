// The dispatcher: the shell around the pure scheduler. It carries out what scheduler.ts decides —
// offers queued jobs to runners, adopts accepted ones, relays their output, stores their ends,
// and re-queues the jobs of a runner that went away (an infrastructure failure: attempt + 1, up
// to a cap) — keeping the job book, the runner registry and the queue consistent, and telling
// JobEvents (and through the bus, every watcher) what happened.
//
// ~390 lines, past the ~350 the project aims for, on purpose: it is one short method per thing that
// can happen to a job (a submission, each runner frame, a runner coming or going, a timeout, a
// cancel), and reading them side by side is what shows that the book, the registry and the queue
// stay in step. The decisions are in scheduler.ts, the state moves in job-lifecycle.ts.
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
import { isUnfinished } from '../store/job-transitions.js';
import { type HeldClaim, HeldClaims } from './held-claims.js';
import type { JobBook } from './job-book.js';
import { JobInput } from './job-input.js';
import { JobLifecycle } from './job-lifecycle.js';
import { offeredJob } from './offered-job.js';
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

/** How often the store is asked again about a job followed on another gateway (see watch). */
const ELSEWHERE_RECHECK_MS = 10_000;

export function isFinished(job: JobRecord): boolean {
  return !isUnfinished(job.status);
}

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
  readonly #claims = new HeldClaims();
  readonly #unsubscribe: (() => void)[] = [];

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.#queue = new JobQueue(options.clock, (id) => this.#queueTimeout(id));
    this.#input = new JobInput(options.registry);
    this.#life = new JobLifecycle({
      ...options,
      queue: this.#queue,
      input: this.#input,
      donorMax: options.donorMax ?? DEFAULT_DONOR_MAX,
      avoidFor: (job) => this.#verifier.avoidFor(job),
    });
    this.#verifier = new Verifier({ ...options, life: this.#life, enqueue: (job) => this.enqueue(job) });
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
    this.#takeIn(await this.#o.book.load(), false);
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
      const claim = this.#claims.take(job.id);
      if (claim !== undefined) this.#reclaim(claim.runner, job.id, claim.done);
      return false;
    });
    this.#takeIn(claimed, true);
  }

  /**
   * The fleet will not give this gateway a job `runner` reported held (it ended, or a living
   * gateway keeps it): the runner drops it.
   */
  heldClaimRefused(runner: RunnerConnection, id: string): void {
    if (!this.#claims.has(id, runner)) return;
    this.#claims.take(id);
    runner.send({ type: 'cancel', job_id: id });
  }

  /**
   * With a fleet, a job a runner reports held that this gateway does not know is asked for
   * (`claim`, which answers with takeOver or heldClaimRefused) instead of dropped at once.
   */
  setClaimHeld(claim: (runner: RunnerConnection, id: string) => void): void {
    this.#claimHeld = claim;
  }

  /**
   * Puts jobs just taken into the book where they belong: queued ones in the queue, running ones
   * with their runner (or on a lease until it comes back). `claimed`: they come from a gateway
   * that died, not from this process's own last run.
   */
  #takeIn(jobs: readonly JobRecord[], claimed: boolean): void {
    const verified: JobRecord[] = [];
    for (const job of jobs) {
      const claim = this.#claims.take(job.id);
      if (claim !== undefined && this.#o.registry.get(claim.runner.name) === claim.runner) {
        if (job.replica_of === null && !Verifier.verifies(job) && job.session_id === null) {
          this.#reclaim(claim.runner, job.id, claim.done);
          continue;
        }
        // Started over or failed below: that runner must not deliver it.
        claim.runner.send({ type: 'cancel', job_id: job.id });
      }
      if (job.replica_of !== null) {
        // Its verified job starts over (below): this replica's runner must not deliver it.
        this.#life.finish(job.id, 'cancelled', { reason: 'cancelled' });
      } else if (Verifier.verifies(job)) {
        verified.push(job);
      } else if (job.session_id !== null) {
        this.#life.finish(job.id, 'failed', {
          error: { code: 'session_closed', message: 'The gateway restarted; the session it ran in is gone' },
        });
      } else if (job.status === 'running') {
        const runner = this.#o.registry.get(job.runner_id ?? '');
        // Connected here, and its hello did not list the job: it is not running anywhere.
        if (claimed && runner !== undefined)
          this.#life.lost(job.id, runner.name, 'its runner came back without it');
        else this.#startLease(job.id, job.runner_id ?? 'unknown');
      } else this.#queue.add(job.id, this.#life.timeoutOf(job));
    }
    for (const job of verified) {
      const queued =
        job.status === 'queued' ? job : this.#o.book.transition(job.id, 'queued', { started_at: null });
      this.#verifier.begin(queued);
    }
    this.#life.depth();
    this.pump();
  }

  /**
   * A runner holds a job the book has: it is that runner's again if it runs there (or is queued:
   * the runner's accept was lost); otherwise the runner must drop it. A result it sent while the
   * job was under claim is taken now.
   */
  #reclaim(runner: RunnerConnection, id: string, done?: HeldClaim['done']): void {
    const { book, registry } = this.#o;
    const job = book.get(id);
    if (job?.status === 'running' && job.runner_id === runner.name) {
      registry.hold(runner, id);
    } else if (job?.status === 'queued' && !registry.isOffered(id)) {
      // It accepted the job, but that news was lost (a gateway crash before the write, or a
      // lease that ran out first): it runs there, so it is that runner's again.
      this.#life.adopt(runner, id);
    } else {
      // Finished, or someone else's by now: the runner must not deliver it.
      runner.send({ type: 'cancel', job_id: id });
      return;
    }
    if (done !== undefined) this.done(runner, id, done.result, done.error);
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
      this.#o.bus.wake();
    });
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

  /** Resolves with the job once it is done, failed or cancelled. */
  async wait(id: string): Promise<JobRecord> {
    const job = await this.#o.book.find(id);
    if (!job) throw new CodeexecError('not_found', `no job ${id}`);
    if (isFinished(job)) return job;
    return new Promise((resolve) => this.watch(id, { end: resolve }));
  }

  /** Follows a job until it ends. Returns the function that stops following it. */
  watch(id: string, watcher: Watcher): () => void {
    const job = this.#o.book.get(id);
    if (job !== undefined && !isFinished(job)) return this.#o.events.watch(id, watcher);
    if (job !== undefined) {
      // It ended here; the store has its last word.
      void this.#o.book.find(id).then((found) => found && watcher.end(found));
      return () => {};
    }
    return this.#watchElsewhere(id, watcher);
  }

  /**
   * A job this process does not hold: it ended, or never was, or (with a store and a bus shared
   * by several gateways) it is another gateway's. Its events are followed on the bus, and the
   * store is asked once the subscription is in effect everywhere: a job that ended before then is
   * ended from the store, one that ends after is heard of on the bus. A store that is slower to
   * show the end than the bus to carry it could leave a gap between the two, so the store is
   * asked again now and then while the job seems unfinished (a backstop, not the main path).
   */
  #watchElsewhere(id: string, watcher: Watcher): () => void {
    let over = false;
    let timer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      over = true;
      clearTimeout(timer);
      unsubscribe();
    };
    const end = (job: JobRecord): void => {
      if (over) return;
      stop();
      watcher.end(job);
    };
    const unsubscribe = this.#o.events.watch(id, { ...watcher, end });
    const ask = (): void => {
      void this.#o.book.find(id).then(
        (found) => {
          if (over) return;
          // Never was (or pruned): nothing will come.
          if (found === undefined) stop();
          else if (isFinished(found)) end(found);
          else timer = setTimeout(ask, ELSEWHERE_RECHECK_MS).unref();
        },
        (err: unknown) => {
          this.#o.log.warn({ job_id: id, err }, 'watching a job: the store did not answer');
          if (!over) timer = setTimeout(ask, ELSEWHERE_RECHECK_MS).unref();
        },
      );
    };
    void this.#o.bus.flush().then(ask, ask);
    return stop;
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
        this.#claims.add(id, runner);
        this.#claimHeld(runner, id);
      } else {
        this.#reclaim(runner, id);
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
    this.#claims.dropRunner(runner);
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
      if (this.#claims.keepDone(id, runner, { ...(result ? { result } : {}), ...(error ? { error } : {}) }))
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

  /**
   * Queued jobs free to move to another gateway of the fleet (fleet/handoff.ts), in queue order:
   * not offered, not a session's, not a replica, with no input waiting for them here.
   */
  movable(): QueuedHere[] {
    const { book, registry, clock } = this.#o;
    const now = clock.now();
    const movable: QueuedHere[] = [];
    for (const entry of this.#queue.entries()) {
      const job = book.get(entry.id);
      if (job?.status !== 'queued' || job.session_id !== null || job.replica_of !== null) continue;
      if (this.#input.holds(job.id) || registry.isOffered(job.id)) continue;
      movable.push({
        id: job.id,
        placement: this.#life.schedJob(job, entry.requeued),
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
      (id) => this.#queue.has(id) && book.get(id)?.status === 'queued' && !registry.isOffered(id),
    );
    if (held.length === 0) return [];
    this.#queue.takeAll(new Set(held));
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
      if (job?.status === 'queued') this.#queue.add(id, this.#life.timeoutOf(job));
    }
    this.#life.depth();
    this.pump();
    return moved;
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
