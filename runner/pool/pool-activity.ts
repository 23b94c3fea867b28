// Whether the pool's jobs keep the engine busy: busy (a job runs or waits for a container), quiet
// (none does, for less than quietMs yet) or idle (for longer). Background work that would slow a
// job down (removals, refills beyond the minimum while busy) waits for idle; a burst is a stretch
// of jobs shorter than burstMs, a short quiet gap included.
export class PoolActivity {
  private readonly quietMs: number;
  private readonly burstMs: number;
  private readonly onIdle: () => void;
  private state: 'busy' | 'quiet' | 'idle' = 'busy';
  private busySince = performance.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(options: { quietMs: number; burstMs: number; onIdle: () => void }) {
    this.quietMs = options.quietMs;
    this.burstMs = options.burstMs;
    this.onIdle = options.onIdle;
  }

  get idle(): boolean {
    return this.state === 'idle';
  }

  /** Not idle, and the stretch of jobs began less than burstMs ago. */
  get inBurst(): boolean {
    return this.state !== 'idle' && performance.now() - this.busySince < this.burstMs;
  }

  /** A job runs or waits. */
  busy(): void {
    if (this.state === 'idle') this.busySince = performance.now();
    this.state = 'busy';
    clearTimeout(this.timer);
  }

  /** No job runs or waits any more: idle after quietMs, unless one comes first. */
  quiet(): void {
    if (this.state !== 'busy') return;
    this.state = 'quiet';
    this.timer = setTimeout(() => {
      this.state = 'idle';
      this.onIdle();
    }, this.quietMs);
  }

  close(): void {
    clearTimeout(this.timer);
  }
}
