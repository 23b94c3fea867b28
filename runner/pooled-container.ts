// One pooled sandbox container and its lifecycle. A container serves exactly one job:
// creating → warm → leased → destroying → gone (or creating → leased when a job is waiting for it).

export type PooledState = 'creating' | 'warm' | 'leased' | 'destroying' | 'gone';

const NEXT: Record<PooledState, readonly PooledState[]> = {
  creating: ['warm', 'leased', 'destroying', 'gone'],
  warm: ['leased', 'destroying'],
  leased: ['destroying'],
  destroying: ['gone'],
  gone: [],
};

export class PooledContainer {
  readonly language: string;
  private current: PooledState = 'creating';
  /** Set once docker created it. */
  id: string | null = null;
  /** The memory and pids limits it currently has (a job with other limits updates them). */
  memoryBytes: number;
  pids: number;
  /** The pool was closed while a job held it: that job's result is not the program's doing. */
  closedUnderJob = false;

  constructor(language: string, limits: { memoryBytes: number; pids: number }) {
    this.language = language;
    this.memoryBytes = limits.memoryBytes;
    this.pids = limits.pids;
  }

  get state(): PooledState {
    return this.current;
  }

  /** Move to `next`; throws on a transition the lifecycle does not allow (a pool bug). */
  to(next: PooledState): void {
    if (!NEXT[this.current].includes(next)) {
      throw new Error(`Pooled container ${this.id ?? '(new)'}: ${this.current} → ${next} is not allowed`);
    }
    this.current = next;
  }
}
