// Client sessions (session_open on /execute/ws): one sandbox leased on one runner for as long as
// the client keeps it. The broker places a session on the least-loaded runner with a free slot
// (the session holds that slot until it ends), runs its executions there one at a time in the
// order they came, ends it when it has been idle too long, and tells its owner (the client
// socket) when it opened and when it ended. Executions are ordinary stored jobs with session_id.
// Listings of a session's files (session_files) go to its runner through SessionListings.
import { randomUUID } from 'node:crypto';
import {
  type AsyncRequest,
  CodeexecError,
  isErrorCode,
  type JobRecord,
  type LimitsInput,
  type Logger,
  type RunnerToGateway,
  type SESSION_END_REASONS,
} from '../../shared/index.js';
import type { Dispatcher } from '../jobs/dispatcher.js';
import type { JobIntake } from '../jobs/job-intake.js';
import type { RunnerConnection } from '../runners/runner-connection.js';
import type { RunnerRegistry } from '../runners/runner-registry.js';
import type { Clock, Timer } from '../scheduling/clock.js';
import { pickRunner } from '../scheduling/scheduler.js';
import { type FilesReply, SessionListings } from './session-listings.js';

export type SessionEndReason = (typeof SESSION_END_REASONS)[number];

/** Who opened the session: told once it is open, or why it could not open, or why it ended. */
export interface SessionOwner {
  opened(session: ClientSession): void;
  /** It never opened (no runner in time, the runner could not make its sandbox). */
  failed(session: ClientSession, error: CodeexecError): void;
  /** It was open and is over; its sandbox is gone (or going). */
  ended(session: ClientSession, reason: SessionEndReason, message: string): void;
}

export interface SessionSpec {
  /** Canonical language name. */
  lang: string;
  /** The sandbox's memory_bytes and pids; defaults for its executions' other limits. */
  limits: LimitsInput | null;
  idleMs: number;
  /** `trusted`: only on the operator's runners (default `any`). */
  trust?: 'trusted' | 'any';
}

/** placing (waiting for a slot) → opening (the runner makes the sandbox) → open → ended. */
export type ClientSessionState = 'placing' | 'opening' | 'open' | 'ended';

export class ClientSession {
  readonly id = randomUUID();
  readonly spec: SessionSpec;
  readonly owner: SessionOwner;
  state: ClientSessionState = 'placing';
  runner: RunnerConnection | null = null;
  /** Executions (job ids) waiting for their turn, in order, and the one offered or running. */
  readonly waiting: string[] = [];
  current: string | null = null;
  /** Runners that refused to open it (busy after all): it is placed elsewhere. */
  readonly refusedBy = new Set<RunnerConnection>();
  /** The one timer of the current state: placement, the runner's answer, or idleness. */
  timer: Timer | undefined;

  constructor(spec: SessionSpec, owner: SessionOwner) {
    this.spec = spec;
    this.owner = owner;
  }
}

export interface SessionBrokerOptions {
  dispatcher: Dispatcher;
  intake: JobIntake;
  registry: RunnerRegistry;
  clock: Clock;
  log: Logger;
  /** How long a session may wait for a runner slot (as a job waits in the queue). */
  placeTimeoutMs: number;
  /** How long a runner may take to make a session's sandbox and say so. */
  openTimeoutMs: number;
  /** How long a runner may take to answer a session_files request (default 5 s). */
  filesTimeoutMs?: number;
}

/** How long a runner may take to list a session's files, by default: find has 2 s of it. */
export const SESSION_FILES_TIMEOUT_MS = 5000;

export class SessionBroker {
  readonly #options: SessionBrokerOptions;
  readonly #sessions = new Map<string, ClientSession>();
  /** Sessions waiting for a runner slot, in order. */
  #placing: ClientSession[] = [];
  readonly #listings: SessionListings;

  constructor(options: SessionBrokerOptions) {
    this.#options = options;
    this.#listings = new SessionListings(options.clock, options.filesTimeoutMs ?? SESSION_FILES_TIMEOUT_MS);
    options.dispatcher.setBeforePump(() => this.#place());
  }

  get #dispatcher(): Dispatcher {
    return this.#options.dispatcher;
  }

  /** Starts placing a new session; its owner hears when it opened (or could not). */
  open(spec: SessionSpec, owner: SessionOwner): ClientSession {
    const session = new ClientSession(spec, owner);
    this.#sessions.set(session.id, session);
    this.#placing.push(session);
    session.timer = this.#timer(this.#options.placeTimeoutMs, () => {
      const seconds = this.#options.placeTimeoutMs / 1000;
      this.#fail(
        session,
        new CodeexecError('no_runner', `No runner offering ${spec.lang} had a free slot within ${seconds} s`),
      );
    });
    this.#dispatcher.pump();
    return session;
  }

  /**
   * Stores an execution for the session; it runs once the session is open and the executions
   * before it have ended. `request` is already checked (language, limits) by the caller.
   */
  execute(
    session: ClientSession,
    request: AsyncRequest,
    interactive: boolean,
    client: string | null,
  ): JobRecord {
    if (session.state === 'ended') throw new CodeexecError('session_closed', 'The session has ended');
    const job = this.#options.intake.submitToSession(
      { ...request, lang: session.spec.lang },
      interactive,
      client,
      session.id,
    );
    session.waiting.push(job.id);
    this.#dispatcher.watch(job.id, { end: () => this.#executionEnded(session, job.id) });
    this.#next(session);
    return job;
  }

  /**
   * Lists the session's workspace files (session_files): now, whether an execution runs or not,
   * or once the session has opened. `reply` is told once: the files, or why not.
   */
  listFiles(session: ClientSession, reply: FilesReply): void {
    if (session.state === 'ended') throw new CodeexecError('session_closed', 'The session has ended');
    this.#listings.request(session, reply);
  }

  /** A runner's answer to session_files. */
  runnerListed(
    runner: RunnerConnection,
    frame: Extract<RunnerToGateway, { type: 'session_files_result' }>,
  ): void {
    this.#listings.answered(runner, frame);
  }

  /** Ends a session at its owner's wish (session_close, the socket closed). Idempotent. */
  close(
    session: ClientSession,
    reason: SessionEndReason = 'closed',
    message = 'The client closed the session',
  ): void {
    if (session.state === 'ended') return;
    const runner = session.runner;
    if (runner !== null && (session.state === 'opening' || session.state === 'open')) {
      runner.send({ type: 'session_close', session_id: session.id });
    }
    this.#end(session, new CodeexecError('session_closed', `The session ended: ${message}`));
    session.owner.ended(session, reason, message);
  }

  /** The runner made the session's sandbox. */
  runnerOpened(runner: RunnerConnection, id: string): void {
    const session = this.#sessions.get(id);
    if (session === undefined || session.runner !== runner || session.state !== 'opening') {
      // Closed while the runner was making it (or never ours): the sandbox must not linger.
      runner.send({ type: 'session_close', session_id: id });
      return;
    }
    session.timer?.cancel();
    session.state = 'open';
    session.owner.opened(session);
    this.#listings.opened(session);
    this.#next(session);
  }

  /** The runner could not open the session, or its sandbox ended (died, was killed, drain). */
  runnerEnded(runner: RunnerConnection, id: string, code: string, message: string): void {
    const session = this.#sessions.get(id);
    if (session === undefined || session.runner !== runner || session.state === 'ended') return;
    if (session.state === 'opening') {
      if (code === 'runner_rejected') {
        // Busy or draining after all: another runner may have the slot.
        this.#options.log.info(
          { runner_id: runner.name, session_id: id, message },
          'runner refused a session',
        );
        runner.sessions.delete(id);
        session.refusedBy.add(runner);
        session.runner = null;
        session.state = 'placing';
        session.timer?.cancel();
        session.timer = this.#timer(this.#options.placeTimeoutMs, () =>
          this.#fail(
            session,
            new CodeexecError(
              'runner_rejected',
              `Every runner that could open the session refused: ${message}`,
            ),
          ),
        );
        this.#placing.push(session);
        this.#dispatcher.pump();
        return;
      }
      this.#fail(session, new CodeexecError(isErrorCode(code) ? code : 'sandbox_failed', message));
      return;
    }
    this.#end(session, new CodeexecError('session_closed', `The session's sandbox ended: ${message}`));
    session.owner.ended(session, 'sandbox_ended', message);
  }

  /** The runner's socket closed: its sessions' sandboxes are gone with it. */
  runnerGone(runner: RunnerConnection): void {
    for (const session of [...this.#sessions.values()]) {
      if (session.runner !== runner) continue;
      if (session.state === 'opening') {
        this.#fail(
          session,
          new CodeexecError('runner_lost', 'The runner went away while it opened the session'),
        );
      } else {
        this.#end(session, new CodeexecError('runner_lost', "The session's runner went away"));
        session.owner.ended(session, 'runner_lost', "The session's runner went away");
      }
    }
  }

  /** Gateway shutdown: timers only (runner sockets and client sockets close on their own). */
  shutdown(): void {
    for (const session of this.#sessions.values()) session.timer?.cancel();
    this.#listings.shutdown();
  }

  /** Runs on every dispatcher pass, before queued jobs: sessions waiting for a slot get one. */
  #place(): void {
    if (this.#placing.length === 0) return;
    const still: ClientSession[] = [];
    for (const session of this.#placing) {
      const runner = pickRunner(this.#options.registry.views(), {
        lang: session.spec.lang,
        labels: [],
        refusedBy: [...session.refusedBy].map((refused) => refused.name),
        trust: session.spec.trust ?? 'any',
      })?.connection;
      if (runner === undefined) {
        still.push(session);
        continue;
      }
      session.timer?.cancel();
      session.state = 'opening';
      session.runner = runner;
      runner.sessions.add(session.id);
      runner.send({
        type: 'session_open',
        session_id: session.id,
        lang: session.spec.lang,
        limits: session.spec.limits,
      });
      session.timer = this.#timer(this.#options.openTimeoutMs, () => {
        runner.send({ type: 'session_close', session_id: session.id });
        const seconds = this.#options.openTimeoutMs / 1000;
        this.#fail(
          session,
          new CodeexecError('sandbox_failed', `The runner did not open the session within ${seconds} s`),
        );
      });
    }
    this.#placing = still;
  }

  /** Offers the next waiting execution once nothing runs; with none waiting, counts idle time. */
  #next(session: ClientSession): void {
    if (session.state !== 'open' || session.current !== null) return;
    session.timer?.cancel();
    const id = session.waiting.shift();
    if (id === undefined) {
      session.timer = this.#timer(session.spec.idleMs, () =>
        this.close(session, 'idle_timeout', `No execution for ${session.spec.idleMs} ms`),
      );
      return;
    }
    session.current = id;
    this.#dispatcher.runInSession(session.runner!, id);
  }

  #executionEnded(session: ClientSession, id: string): void {
    if (session.current === id) session.current = null;
    else {
      const index = session.waiting.indexOf(id);
      if (index !== -1) session.waiting.splice(index, 1);
    }
    this.#next(session);
  }

  /** It never opened: its owner gets the error. */
  #fail(session: ClientSession, error: CodeexecError): void {
    if (session.state === 'ended') return;
    this.#end(session, new CodeexecError('session_closed', `The session did not open: ${error.message}`));
    session.owner.failed(session, error);
  }

  /**
   * Frees its slot; executions still waiting end with session_closed, listings still pending with
   * `listingError`.
   */
  #end(session: ClientSession, listingError: CodeexecError): void {
    session.timer?.cancel();
    session.state = 'ended';
    this.#sessions.delete(session.id);
    this.#placing = this.#placing.filter((s) => s !== session);
    session.runner?.sessions.delete(session.id);
    this.#listings.ended(session, listingError);
    const waiting = session.waiting.splice(0);
    // The one offered or running ends when its runner reports it (it is cancelled with the
    // sandbox); one not offered yet (a store write pending) ends here.
    if (session.current !== null) waiting.push(session.current);
    for (const id of waiting) {
      this.#dispatcher.failQueued(id, {
        code: 'session_closed',
        message: 'The session ended before the execution ran',
      });
    }
    this.#dispatcher.pump();
  }

  #timer(ms: number, fire: () => void): Timer {
    return this.#options.clock.after(ms, fire);
  }
}
