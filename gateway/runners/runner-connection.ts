// One connected runner, as the gateway sees it: its handshake state, what it offers, what it holds.
import type { RunnerLanguage } from '../../shared/index.js';
import type { SocketLike } from '../transport/transport.js';

/** handshaking → ready → (draining →) closed. Only a `ready` runner is offered jobs. */
export type RunnerSessionState = 'handshaking' | 'ready' | 'draining' | 'closed';

const NEXT: Record<RunnerSessionState, readonly RunnerSessionState[]> = {
  handshaking: ['ready', 'draining', 'closed'],
  ready: ['draining', 'closed'],
  draining: ['closed'],
  closed: [],
};

export class RunnerSession {
  #state: RunnerSessionState = 'handshaking';
  name = '';
  version = '';
  languages = new Map<string, RunnerLanguage>();
  slots = 0;
  labels: string[] = [];
  /** Jobs offered and not yet answered, and jobs accepted: both take a slot. */
  readonly offered = new Set<string>();
  readonly running = new Set<string>();
  /** Client sessions whose sandbox it holds: each takes a slot for its whole life. */
  readonly sessions = new Set<string>();
  /** Offered or running jobs that run in one of those sessions: they take no slot of their own. */
  readonly sessionJobs = new Set<string>();
  lastSeen = Date.now();
  readonly socket: SocketLike;

  constructor(socket: SocketLike) {
    this.socket = socket;
  }

  get state(): RunnerSessionState {
    return this.#state;
  }

  /** Whether it said hello and has not gone: its jobs are its own (draining or not). */
  get live(): boolean {
    return this.#state === 'ready' || this.#state === 'draining';
  }

  /** Moves to `to` if that may follow the current state; says whether it did. */
  moveTo(to: RunnerSessionState): boolean {
    if (!NEXT[this.#state].includes(to)) return false;
    this.#state = to;
    return true;
  }

  get load(): number {
    return this.offered.size + this.running.size - this.sessionJobs.size + this.sessions.size;
  }

  get freeSlots(): number {
    return this.slots - this.load;
  }

  offers(lang: string): boolean {
    return this.languages.has(lang);
  }

  send(frame: object): boolean {
    return this.socket.send(JSON.stringify(frame));
  }
}
