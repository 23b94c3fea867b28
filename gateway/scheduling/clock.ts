// Time as the gateway's timers see it: the real clock in production, a fake one in unit tests
// (leases, offer and queue timeouts run in microseconds of test time, with no sleeps).

export interface Timer {
  cancel(): void;
}

export interface Clock {
  now(): number;
  /** Calls `fire` once after `ms`; the timer never keeps the process alive. */
  after(ms: number, fire: () => void): Timer;
}

export const realClock: Clock = {
  now: () => Date.now(),
  after(ms, fire) {
    const timer = setTimeout(fire, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

/** A clock that moves only when told to: `advance(ms)` fires every timer due by then, in order. */
export class FakeClock implements Clock {
  #now: number;
  #timers: { at: number; seq: number; fire: () => void; live: boolean }[] = [];
  #seq = 0;

  constructor(start = Date.parse('2026-01-01T00:00:00Z')) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  after(ms: number, fire: () => void): Timer {
    const timer = { at: this.#now + ms, seq: this.#seq++, fire, live: true };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.live = false;
      },
    };
  }

  /** Moves time forward, firing due timers one at a time (a timer may set another). */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      const due = this.#timers
        .filter((t) => t.live && t.at <= until)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      due.live = false;
      this.#now = due.at;
      due.fire();
    }
    this.#now = until;
    this.#timers = this.#timers.filter((t) => t.live);
  }

  /** Timers still waiting to fire. */
  get pending(): number {
    return this.#timers.filter((t) => t.live).length;
  }
}
