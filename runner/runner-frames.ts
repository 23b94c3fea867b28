// How a runner answers the gateway's frames: which offers it accepts (and why it rejects the
// others), cancels, interactive input, and sessions opened, listed and closed. The rules live here; the
// runner (runner.ts) gives them its state, its jobs, its sessions and its pool.
import type { GatewayToRunner, Logger, OfferedJob, RunnerToGateway } from '../shared/index.js';
import type { HeldJobs } from './held-jobs.js';
import type { SandboxPool } from './pool/sandbox-pool.js';
import type { RunnerState } from './runner-state.js';
import type { RunnerSessions, SessionEnd } from './sessions/runner-sessions.js';

export interface FramesContext {
  state(): RunnerState;
  /** The Docker engine stopped answering (the runner is waiting for it). */
  engineMissing(): boolean;
  slots(): number;
  /** Whether jobs of this language (a canonical name) run here. */
  offers(lang: string): boolean;
  jobs: HeldJobs;
  sessions: RunnerSessions;
  pool(): Pick<SandboxPool, 'execute'>;
  send(frame: RunnerToGateway): boolean;
  log: Logger;
}

export class RunnerFrames {
  readonly #ctx: FramesContext;

  constructor(context: FramesContext) {
    this.#ctx = context;
  }

  handle(frame: GatewayToRunner): void {
    const { jobs, sessions } = this.#ctx;
    switch (frame.type) {
      case 'offer':
        this.#onOffer(frame.job);
        return;
      case 'cancel':
        jobs.cancel(frame.job_id);
        return;
      case 'stdin':
      case 'stdin_eof':
      case 'signal':
        jobs.control(frame);
        return;
      case 'session_open':
        sessions.open(frame, () => this.#sessionRefusal(frame.lang));
        return;
      case 'session_close':
        sessions.close(frame.session_id);
        return;
      case 'session_files':
        // Runs nothing of the session's: answered while paused or draining too.
        sessions.listFiles(frame);
        return;
      case 'heartbeat':
      case 'welcome':
      // The connection acts on it (gateway-connection.ts): the runner's jobs are not concerned.
      case 'goaway':
        return;
      case 'error':
        this.#ctx.log.warn(
          { job_id: frame.job_id, code: frame.code, message: frame.message },
          'the gateway reported an error',
        );
        return;
      default: {
        const never: never = frame;
        this.#ctx.log.warn({ frame: never }, 'unexpected frame');
      }
    }
  }

  /** Slots in use: pooled jobs, and one per session for its whole life. */
  get #slotsUsed(): number {
    return this.#ctx.jobs.pooled + this.#ctx.sessions.slots;
  }

  /** Why no new job of `lang` can start here now (the reject's reason), or null. */
  #refusal(lang: string): string | null {
    const state = this.#ctx.state();
    if (state !== 'running') return state;
    if (this.#ctx.engineMissing()) return 'the Docker engine does not answer';
    if (this.#slotsUsed >= this.#ctx.slots()) return 'no free slot';
    if (!this.#ctx.offers(lang)) return `language ${lang} not offered`;
    return null;
  }

  /** Why no new session of `lang` can open here now, or null. */
  #sessionRefusal(lang: string): SessionEnd | null {
    const rejected = (message: string): SessionEnd => ({ code: 'runner_rejected', message });
    const state = this.#ctx.state();
    if (state !== 'running') return rejected(`The runner is ${state}: it opens no session`);
    if (this.#ctx.engineMissing()) return rejected('The Docker engine of this runner does not answer');
    if (this.#slotsUsed >= this.#ctx.slots()) {
      return rejected(`The runner has no free slot (${this.#ctx.slots()} in use)`);
    }
    if (!this.#ctx.offers(lang)) {
      return { code: 'unknown_language', message: `The language ${lang} is not offered by this runner` };
    }
    return null;
  }

  #onOffer(job: OfferedJob): void {
    if (this.#ctx.jobs.reoffered(job.id)) return;
    if (job.session_id !== null) {
      this.#onSessionOffer(job);
      return;
    }
    const refusal = this.#refusal(job.lang);
    if (refusal !== null) {
      this.#ctx.send({ type: 'reject', job_id: job.id, reason: refusal });
      return;
    }
    this.#ctx.jobs.run(job, null, this.#ctx.pool());
  }

  /**
   * An execution in an open session: its sandbox, no slot of its own. None while paused (the
   * owner wants nothing run); a draining runner still serves its sessions until they end.
   */
  #onSessionOffer(job: OfferedJob): void {
    const session = this.#ctx.state() === 'paused' ? 'paused' : this.#ctx.sessions.claim(job);
    if (typeof session === 'string') {
      this.#ctx.send({ type: 'reject', job_id: job.id, reason: session });
      return;
    }
    this.#ctx.jobs.run(job, job.session_id, session);
  }
}
