// Gets a run back to its job after the socket was lost. run-state.ts decides whether and when (its
// `reconnect`: the wait, the tries, the 60 s window); this keeps the timers: after the wait it
// opens a new socket and sends `resume` after the last chunk the page has, reports a failed try as
// lost again (the reducer plans the next), and the window's end as a tick (the reducer gives up).
import type { ClientFrame } from './gateway-socket.js';
import {
  RESUME_WINDOW_MS,
  type Reconnect,
  type RunEvent,
  type RunFailure,
  type RunState,
} from './run-state.js';

export interface ReconnectorParts {
  /** Opens the socket if it is not; the failure, or null once it is open. */
  connect: () => Promise<RunFailure | null>;
  send: (frame: ClientFrame) => void;
  /** The run now: it may have moved on while a try was under way. */
  run: () => RunState | null;
  event: (event: RunEvent) => void;
}

/** The window's timer fires this much after its end, so the reducer never sees it a tick early. */
const TICK_MARGIN_MS = 10;

export class RunReconnector {
  readonly #parts: ReconnectorParts;
  /** The reconnect state the next try is planned for (the reducer makes a new one per failure). */
  #planned: Reconnect | null = null;
  #next: ReturnType<typeof setTimeout> | null = null;
  #windowEnd: ReturnType<typeof setTimeout> | null = null;

  constructor(parts: ReconnectorParts) {
    this.#parts = parts;
  }

  /** Call after every change of the run: plans a try for a new reconnect state, or stops trying. */
  follow(run: RunState | null): void {
    const reconnect = run !== null && run.phase !== 'ended' ? run.reconnect : null;
    if (reconnect === this.#planned) return;
    this.#planned = reconnect;
    if (this.#next !== null) clearTimeout(this.#next);
    this.#next = null;
    if (reconnect === null) {
      if (this.#windowEnd !== null) clearTimeout(this.#windowEnd);
      this.#windowEnd = null;
      return;
    }
    this.#next = setTimeout(() => void this.#try(reconnect), reconnect.waitMs);
    // A try can hang (a connection that never opens, a resume never answered): the window still ends.
    this.#windowEnd ??= setTimeout(
      () => this.#parts.event({ type: 'tick', now: Date.now() }),
      Math.max(0, reconnect.since + RESUME_WINDOW_MS - Date.now()) + TICK_MARGIN_MS,
    );
  }

  async #try(reconnect: Reconnect): Promise<void> {
    this.#next = null;
    const failure = await this.#parts.connect();
    const run = this.#parts.run();
    if (run === null || run.reconnect !== reconnect || run.jobId === null) return; // moved on meanwhile
    if (failure !== null) {
      this.#parts.event({ type: 'lost', failure, now: Date.now() });
      return;
    }
    // The run's id is new on this socket; frames for it are the run's again from `resumed` on.
    this.#parts.send({ type: 'resume', id: run.id, job_id: run.jobId, after_seq: run.lastSeq });
  }
}
