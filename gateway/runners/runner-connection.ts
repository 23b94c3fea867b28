// One connected runner, as the gateway sees it: its handshake state, what it offers, what it
// holds. The registry (runner-registry.ts) keeps the live ones; the hub drives the handshake.
import type { RunnerLanguage } from '../../shared/index.js';
import type { RunnerInfo } from '../events/job-events.js';
import type { SchedRunner } from '../scheduling/scheduler.js';
import type { SocketLike } from '../transport/transport.js';

/** handshaking → ready → (draining →) closed. Only a `ready`, unpaused runner is offered jobs. */
export type RunnerConnectionState = 'handshaking' | 'ready' | 'draining' | 'closed';

const NEXT: Record<RunnerConnectionState, readonly RunnerConnectionState[]> = {
  handshaking: ['ready', 'draining', 'closed'],
  ready: ['draining', 'closed'],
  draining: ['closed'],
  closed: [],
};

export class RunnerConnection {
  #state: RunnerConnectionState = 'handshaking';
  name = '';
  version = '';
  languages = new Map<string, RunnerLanguage>();
  /** Languages whose images it is building: offered later. */
  building: string[] = [];
  slots = 0;
  labels: string[] = [];
  /** Paused by its owner: keeps what it holds, takes nothing new until resumed. */
  paused = false;
  /** Operator machines are `trusted`; volunteers' desktops will be `donor`. */
  tier: 'trusted' | 'donor' = 'trusted';
  /**
   * Who answers for its results: for a donor, its enrollment token's fingerprint (`donor:…`, one
   * identity however many runners use the token); for a trusted runner, its name.
   */
  identity = '';
  /** Jobs offered and not yet answered, and jobs accepted: both take a slot. */
  readonly offered = new Set<string>();
  readonly running = new Set<string>();
  /** Client sessions whose sandbox it holds: each takes a slot for its whole life. */
  readonly sessions = new Set<string>();
  /** Offered or running jobs that run in one of those sessions: they take no slot of their own. */
  readonly sessionJobs = new Set<string>();
  /** Jobs it finished with a result on this connection. */
  jobsDone = 0;
  lastSeen = Date.now();
  readonly socket: SocketLike;

  constructor(socket: SocketLike) {
    this.socket = socket;
  }

  get state(): RunnerConnectionState {
    return this.#state;
  }

  /** Whether it said hello and has not gone: its jobs are its own (draining or not). */
  get live(): boolean {
    return this.#state === 'ready' || this.#state === 'draining';
  }

  /** Whether it takes offers now. */
  get accepting(): boolean {
    return this.#state === 'ready' && !this.paused;
  }

  /** Moves to `to` if that may follow the current state; says whether it did. */
  moveTo(to: RunnerConnectionState): boolean {
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

  /** As the scheduler sees it. */
  view(): SchedRunner & { connection: RunnerConnection } {
    return {
      id: this.name,
      accepting: this.accepting,
      draining: this.#state === 'draining',
      languages: [...this.languages.keys()],
      building: this.building,
      labels: this.labels,
      slots: this.slots,
      load: this.load,
      tier: this.tier,
      identity: this.identity || this.name,
      connection: this,
    };
  }

  /** As events describe it. */
  info(): RunnerInfo {
    return {
      name: this.name,
      version: this.version,
      languages: [...this.languages.keys()],
      building: [...this.building],
      labels: [...this.labels],
      slots: this.slots,
      tier: this.tier,
    };
  }
}
