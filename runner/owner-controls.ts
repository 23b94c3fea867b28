// What a runner's owner controls while it runs: pause, finish-then-pause, resume, and the caps
// (slots, CPUs per sandbox, a memory cap on every job). Each takes effect for the next job; what
// runs keeps its own. The gateway hears of each change as a `capacity` frame (runner-presence.ts).
import type { Logger } from '../shared/index.js';
import type { SandboxPool } from './pool/sandbox-pool.js';
import { checkSlots } from './runner-options.js';
import type { RunnerStateMachine } from './runner-state.js';

/** The owner's caps: each applies to the next job (jobs already running keep theirs). */
export interface RunnerCaps {
  /** Jobs (and sessions) at once. */
  slots: number;
  /** CPUs per sandbox. */
  cpus: number;
  /** The most memory any job's sandbox gets, bytes; null: the runner's maximum. */
  memory: number | null;
}

export interface ControlsOptions {
  state: RunnerStateMachine;
  caps: RunnerCaps;
  /** Starts paused, for this reason (null: running). */
  pausedAtStart: string | null;
  pool: () => Pick<SandboxPool, 'setCaps'>;
  /** Jobs running now (pooled and sessions' executions). */
  running: () => string[];
  /** Slots or paused changed: the gateway is told. */
  capacityChanged: () => void;
  log: Logger;
}

export class OwnerControls {
  readonly #options: ControlsOptions;
  #caps: RunnerCaps;
  #pauseAtStart: string | null;
  /** finishThenPause() calls, each waiting for the jobs that ran when it was called. */
  #finishing: { jobs: Set<string>; resolve: () => void }[] = [];

  constructor(options: ControlsOptions) {
    this.#options = options;
    this.#caps = { ...options.caps };
    this.#pauseAtStart = options.pausedAtStart;
  }

  get caps(): Readonly<RunnerCaps> {
    return { ...this.#caps };
  }

  /** The state a runner that just started moves to, and why. */
  get startState(): { state: 'running' | 'paused'; reason: string } {
    const reason = this.#pauseAtStart;
    return reason === null ? { state: 'running', reason: 'running' } : { state: 'paused', reason };
  }

  pause(reason: string): boolean {
    const { state } = this.#options;
    if (state.state === 'starting') {
      this.#pauseAtStart = reason;
      return true;
    }
    if (state.state === 'paused') state.explain(reason);
    if (!state.moveTo('paused', reason)) return false;
    this.#options.capacityChanged();
    return true;
  }

  finishThenPause(reason: string): Promise<void> {
    this.pause(reason);
    return new Promise((resolve) => {
      this.#finishing.push({ jobs: new Set(this.#options.running()), resolve });
      this.jobsChanged();
    });
  }

  resume(reason: string): boolean {
    const { state } = this.#options;
    if (state.state === 'starting') {
      const paused = this.#pauseAtStart !== null;
      this.#pauseAtStart = null;
      return paused;
    }
    if (!state.moveTo('running', reason)) return false;
    this.#options.capacityChanged();
    return true;
  }

  setCaps(caps: { slots?: number; cpus?: number; memory?: number | null }): void {
    const slots = caps.slots === undefined ? this.#caps.slots : checkSlots(caps.slots);
    // The pool checks CPUs and memory, and throws before changing anything.
    this.#options.pool().setCaps({
      ...(caps.cpus === undefined ? {} : { cpus: caps.cpus }),
      ...(caps.memory === undefined ? {} : { memoryBytes: caps.memory }),
    });
    const slotsChanged = slots !== this.#caps.slots;
    this.#caps = {
      slots,
      cpus: caps.cpus ?? this.#caps.cpus,
      memory: caps.memory === undefined ? this.#caps.memory : caps.memory,
    };
    this.#options.log.info({ ...this.#caps }, 'caps changed');
    if (slotsChanged) this.#options.capacityChanged();
  }

  /** A job ended: finish-then-pause calls whose jobs have all ended resolve. */
  jobsChanged(): void {
    const running = new Set(this.#options.running());
    this.#finishing = this.#finishing.filter((waiter) => {
      const done = [...waiter.jobs].every((id) => !running.has(id));
      if (done) waiter.resolve();
      return !done;
    });
  }

  /** The runner stopped: nothing more will end, so every waiting call resolves. */
  stopped(): void {
    for (const waiter of this.#finishing.splice(0)) waiter.resolve();
  }
}
