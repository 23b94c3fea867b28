// The jobs a runner holds: accepted, run in the pool or in a session's sandbox, their output and
// end reported to the gateway. A result that finds no gateway (it is away) waits in an outbox and
// is sent after the next welcome; meanwhile the job is listed as held, so it is not run again.
import {
  CodeexecError,
  type GatewayToRunner,
  type Logger,
  MAX_RUNNER_FRAME_BYTES,
  type OfferedJob,
  type RunnerToGateway,
} from '../shared/index.js';
import { fitResult } from './execution/fit-result.js';
import { JobControl } from './execution/job-control.js';
import type { SandboxPool } from './pool/sandbox-pool.js';
import type { JobFinished, JobStarted } from './runner-events.js';

type DoneFrame = Extract<RunnerToGateway, { type: 'done' }>;
type ControlFrame = Extract<GatewayToRunner, { type: 'stdin' | 'stdin_eof' | 'signal' }>;

interface HeldJob {
  abort: AbortController;
  seq: number;
  /** Signals for the program, and its live stdin when the job is interactive. */
  control: JobControl;
  /** The session it runs in (it takes no slot of its own), or null for a pooled job. */
  session: string | null;
  /** The gateway socket it was accepted on (see HeldJobs.newSocket). */
  epoch: number;
  /** Handed back to the gateway (the runner was suspended), for this reason: no result is sent. */
  handedBack: string | null;
  /** The runner's logger, with the job's id (and session) on every line. */
  log: Logger;
}

export interface HeldJobsOptions {
  send: (frame: RunnerToGateway) => boolean;
  log: Logger;
  started: (job: JobStarted) => void;
  finished: (job: JobFinished) => void;
  /** A session's execution ended, its done sent (or dropped with its socket). */
  sessionExecutionEnded: (session: string) => void;
  /** A job ended or a waiting result went out: a drain or a finish-then-pause may be complete. */
  changed: () => void;
}

export class HeldJobs {
  readonly #options: HeldJobsOptions;
  readonly #held = new Map<string, HeldJob>();
  /** Results that finished while the gateway was unreachable, by job: sent after the next welcome. */
  readonly #outbox = new Map<string, DoneFrame>();
  /**
   * Counts gateway sockets. A session's execution belongs to the socket it was accepted on: it is
   * never held across a reconnect, and its done is not sent on a later socket.
   */
  #epoch = 0;

  constructor(options: HeldJobsOptions) {
    this.#options = options;
  }

  /** Jobs running here, pooled and sessions' executions. */
  get running(): number {
    return this.#held.size;
  }

  runningIds(): string[] {
    return [...this.#held.keys()];
  }

  /** Results waiting for a gateway. */
  get undelivered(): number {
    return this.#outbox.size;
  }

  /** Jobs that hold a slot each: every running job but a session's executions. */
  get pooled(): number {
    let count = 0;
    for (const job of this.#held.values()) if (job.session === null) count++;
    return count;
  }

  /**
   * What the hello lists: finished-but-unreported jobs count as held (their results follow the
   * welcome, and the gateway must not run them again meanwhile). A session's executions never do.
   */
  helloHeld(): string[] {
    const pooled = [...this.#held].filter(([, job]) => job.session === null).map(([id]) => id);
    return [...pooled, ...this.#outbox.keys()];
  }

  /** What a heartbeat lists: every job the current socket may hear of. */
  heartbeatJobs(): string[] {
    return [...this.#held].filter(([, job]) => this.#reportable(job)).map(([id]) => id);
  }

  /** The socket changed (dropped, or the runner is closing): sessions' executions are not carried over. */
  newSocket(): void {
    this.#epoch++;
  }

  /** After a welcome: the results that waited for a gateway. */
  flush(): void {
    for (const [id, frame] of [...this.#outbox]) {
      if (this.#options.send(frame)) this.#outbox.delete(id);
    }
    this.#options.changed();
  }

  /**
   * An offer for a job already running here (the gateway lost our accept: it restarted) is
   * accepted again and run once; one of a session from an earlier socket is ending with it.
   * False when the job is not held here.
   */
  reoffered(id: string): boolean {
    const known = this.#held.get(id);
    if (known === undefined) return false;
    if (this.#reportable(known)) this.#options.send({ type: 'accept', job_id: id });
    else this.#options.send({ type: 'reject', job_id: id, reason: 'its session has ended' });
    return true;
  }

  cancel(id: string): void {
    this.#held.get(id)?.abort.abort();
  }

  /** Kills every pooled job and hands it back to the gateway unfinished (`release`). */
  handBack(reason: string): void {
    for (const job of this.#held.values()) {
      if (job.session !== null || job.handedBack !== null) continue;
      job.handedBack = reason;
      job.abort.abort();
    }
  }

  cancelAll(): void {
    for (const job of this.#held.values()) job.abort.abort();
  }

  /** Interactive input: to the held job's program; for a job not held here, dropped with a warning. */
  control(frame: ControlFrame): void {
    const control = this.#held.get(frame.job_id)?.control;
    if (control === undefined || (frame.type !== 'signal' && control.input === null)) {
      this.#options.log.warn(
        { job_id: frame.job_id, frame: frame.type },
        'input for a job this runner does not run interactively; dropped',
      );
      return;
    }
    if (frame.type === 'signal') control.signal(frame.signal);
    else if (frame.type === 'stdin') control.input?.write(Buffer.from(frame.data, 'utf8'));
    else control.input?.end();
  }

  /** Accepts the job and runs it in the pool or in its session's sandbox. */
  run(job: OfferedJob, session: string | null, sandbox: Pick<SandboxPool, 'execute'>): void {
    const held: HeldJob = {
      abort: new AbortController(),
      seq: 0,
      control: new JobControl(job.interactive),
      session,
      epoch: this.#epoch,
      handedBack: null,
      log: this.#options.log.child({ job_id: job.id, ...(session ? { session_id: session } : {}) }),
    };
    this.#held.set(job.id, held);
    this.#options.send({ type: 'accept', job_id: job.id });
    held.log.info({ lang: job.lang }, 'job accepted');
    this.#options.started({ id: job.id, lang: job.lang, ...(session ? { session } : {}) });
    void this.#execute(job, held, sandbox);
  }

  /** Whether the current socket may hear of this job: a session's execution only on its own. */
  #reportable(job: HeldJob): boolean {
    return job.session === null || job.epoch === this.#epoch;
  }

  async #execute(job: OfferedJob, held: HeldJob, sandbox: Pick<SandboxPool, 'execute'>): Promise<void> {
    // A pooled job's output is sent while some socket is up; a session's only on its own socket.
    const send = (frame: RunnerToGateway) => this.#reportable(held) && this.#options.send(frame);
    let done: DoneFrame;
    try {
      const result = await sandbox.execute(
        { ...job, control: held.control },
        (chunk) => {
          send({ type: 'output', job_id: job.id, stream: chunk.stream, seq: held.seq++, data: chunk.data });
        },
        held.abort.signal,
        (stage, compile) => send({ type: 'stage', job_id: job.id, stage, compile }),
      );
      done = { type: 'done', job_id: job.id, result: fitResult(result, MAX_RUNNER_FRAME_BYTES - 64 * 1024) };
    } catch (err) {
      const error =
        err instanceof CodeexecError ? err : new CodeexecError('sandbox_failed', (err as Error).message);
      held.log.error({ err }, 'job failed in the sandbox');
      done = { type: 'done', job_id: job.id, error: { code: error.code, message: error.message } };
    }
    this.#held.delete(job.id);
    if (held.handedBack !== null) {
      // The gateway runs it again elsewhere. If this frame finds no gateway, the job is missing
      // from the next hello, and the gateway requeues it then.
      const released = send({ type: 'release', job_id: job.id, reason: held.handedBack });
      held.log.info({ reason: held.handedBack, reported: released }, 'job handed back');
      this.#options.finished({
        id: job.id,
        lang: job.lang,
        reason: null,
        exit_code: null,
        error: 'handed_back',
        wall_ms: null,
        cpu_ms: null,
        reported: released,
      });
      this.#options.changed();
      return;
    }
    // A session's execution is reported on its own socket only; a pooled job's waits for the next.
    const sent = send(done);
    if (!sent && held.session === null) this.#outbox.set(job.id, done);
    if (held.session !== null) this.#options.sessionExecutionEnded(held.session);
    // One line per finished job: operators (and the fault tests) count completions by it.
    held.log.info(
      done.result
        ? {
            reason: done.result.reason,
            exit_code: done.result.exit_code,
            wall_ms: done.result.wall_ms,
            reported: sent,
          }
        : { error: done.error?.code, reported: sent },
      'job finished',
    );
    this.#options.finished(finished(job, held, done, sent));
    this.#options.changed();
  }
}

function finished(job: OfferedJob, held: HeldJob, done: DoneFrame, reported: boolean): JobFinished {
  const result = done.result;
  return {
    id: job.id,
    lang: job.lang,
    ...(held.session ? { session: held.session } : {}),
    reason: result?.reason ?? null,
    exit_code: result?.exit_code ?? null,
    error: done.error?.code ?? null,
    wall_ms: result?.wall_ms ?? null,
    // Measured inside the sandbox: informative, not proof (runner/execution's stage waiter).
    cpu_ms: result?.cpu_ms ?? null,
    reported,
  };
}
