// session_files: a client's request to list an open session's workspace, forwarded to the runner
// that holds its sandbox (session_files with a request id of the gateway's) and answered from the
// runner's session_files_result. A request made before the session opened waits for it, as an
// execution does. Each forwarded request fails after `timeoutMs` without an answer, and every
// pending one fails when its session ends (the broker says why: closed, runner gone).
import { randomUUID } from 'node:crypto';
import { CodeexecError, isErrorCode, type RunnerToGateway, type WorkspaceFile } from '../../shared/index.js';
import type { RunnerConnection } from '../runners/runner-connection.js';
import type { Clock, Timer } from '../scheduling/clock.js';
import type { ClientSession } from './session-broker.js';

export interface FilesAnswer {
  files: WorkspaceFile[];
  truncated: boolean;
}

/** Told once: the listing, or why there is none. */
export type FilesReply = (answer: FilesAnswer | CodeexecError) => void;

type ResultFrame = Extract<RunnerToGateway, { type: 'session_files_result' }>;

interface Pending {
  session: ClientSession;
  reply: FilesReply;
  /** The runner it was sent to; null while the session is not open yet. */
  runner: RunnerConnection | null;
  timer: Timer | undefined;
}

export class SessionListings {
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  /** By the gateway's request id. */
  readonly #pending = new Map<string, Pending>();

  constructor(clock: Clock, timeoutMs: number) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
  }

  /** Lists the session's files now if it is open, else once it opens. */
  request(session: ClientSession, reply: FilesReply): void {
    const id = randomUUID();
    const pending: Pending = { session, reply, runner: null, timer: undefined };
    this.#pending.set(id, pending);
    if (session.state === 'open') this.#forward(id, pending);
  }

  /** The session opened: requests that waited for it go to its runner. */
  opened(session: ClientSession): void {
    for (const [id, pending] of this.#pending) {
      if (pending.session === session && pending.runner === null) this.#forward(id, pending);
    }
  }

  /** A runner's answer; one for a request that is settled, or not its own, is dropped. */
  answered(runner: RunnerConnection, frame: ResultFrame): void {
    const pending = this.#pending.get(frame.request_id);
    if (pending === undefined || pending.runner !== runner || pending.session.id !== frame.session_id) return;
    if (frame.error === undefined) {
      this.#settle(frame.request_id, { files: frame.files, truncated: frame.truncated });
    } else {
      const code = isErrorCode(frame.error.code) ? frame.error.code : 'sandbox_failed';
      this.#settle(frame.request_id, new CodeexecError(code, frame.error.message));
    }
  }

  /** The session ended: its pending requests fail with `error`. */
  ended(session: ClientSession, error: CodeexecError): void {
    for (const [id, pending] of [...this.#pending]) {
      if (pending.session === session) this.#settle(id, error);
    }
  }

  /** Gateway shutdown: timers only. */
  shutdown(): void {
    for (const pending of this.#pending.values()) pending.timer?.cancel();
  }

  #forward(id: string, pending: Pending): void {
    const runner = pending.session.runner;
    if (runner === null) return;
    pending.runner = runner;
    runner.send({ type: 'session_files', session_id: pending.session.id, request_id: id });
    pending.timer = this.#clock.after(this.#timeoutMs, () => {
      const seconds = this.#timeoutMs / 1000;
      this.#settle(
        id,
        new CodeexecError(
          'sandbox_failed',
          `The runner did not list the session's files within ${seconds} s`,
        ),
      );
    });
  }

  #settle(id: string, answer: FilesAnswer | CodeexecError): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    pending.timer?.cancel();
    pending.reply(answer);
  }
}
