// The runner's lifecycle as named states with guarded transitions, each with a reason a person
// can read (the desktop app shows it as it is, BOINC-style):
//   starting → running ⇄ paused;  running | paused → draining → stopping → stopped;
//   any state but stopped → stopping (close).
// Only `running` takes new jobs and sessions; `paused` keeps what it holds and takes nothing new;
// `draining` finishes what it holds, then stops.

export type RunnerState = 'starting' | 'running' | 'paused' | 'draining' | 'stopping' | 'stopped';

const NEXT: Record<RunnerState, readonly RunnerState[]> = {
  starting: ['running', 'paused', 'stopping'],
  running: ['paused', 'draining', 'stopping'],
  paused: ['running', 'draining', 'stopping'],
  draining: ['stopping'],
  stopping: ['stopped'],
  stopped: [],
};

export interface StateChange {
  state: RunnerState;
  reason: string;
}

export class RunnerStateMachine {
  #state: RunnerState = 'starting';
  #reason = 'starting';
  readonly #onChange: (change: StateChange) => void;

  constructor(onChange: (change: StateChange) => void) {
    this.#onChange = onChange;
  }

  get state(): RunnerState {
    return this.#state;
  }

  get reason(): string {
    return this.#reason;
  }

  /** Whether `to` may follow the current state. */
  can(to: RunnerState): boolean {
    return NEXT[this.#state].includes(to);
  }

  /** Moves to `to` if allowed (and tells the listener); false when the transition is not allowed. */
  moveTo(to: RunnerState, reason: string): boolean {
    if (!this.can(to)) return false;
    this.#state = to;
    this.#reason = reason;
    this.#onChange({ state: to, reason });
    return true;
  }

  /** The same state for another reason (a paused runner finished its held jobs). */
  explain(reason: string): void {
    if (reason === this.#reason) return;
    this.#reason = reason;
    this.#onChange({ state: this.#state, reason });
  }
}
