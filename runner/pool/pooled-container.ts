// One pooled sandbox container and its lifecycle. A container serves exactly one job, or one
// session's executions (pool-session.ts), and never anyone else's:
// creating → warm → leased → spent → destroying → gone (or creating → leased when a job is waiting
// for it; warm → destroying when it dies unused). `spent` waits for its removal, never for a job.
import type { ExecRequest, PreparedExec, SandboxDriver } from '../docker/docker-sandbox.js';

export type PooledState = 'creating' | 'warm' | 'leased' | 'spent' | 'destroying' | 'gone';

const NEXT: Record<PooledState, readonly PooledState[]> = {
  creating: ['warm', 'leased', 'destroying', 'gone'],
  warm: ['leased', 'destroying'],
  leased: ['spent', 'destroying'],
  spent: ['destroying'],
  destroying: ['gone'],
  gone: [],
};

export class PooledContainer {
  readonly language: string;
  private current: PooledState = 'creating';
  /** Set once docker created it. */
  id: string | null = null;
  /** An exec started ahead of the job, so the job's first exec skips docker's exec set-up. */
  prepared: PreparedExec | null = null;
  /** The memory and pids limits it currently has (a job with other limits updates them). */
  memoryBytes: number;
  pids: number;
  /** Its CPU quota (a job after the runner's caps changed updates it). */
  cpus: number;
  /** The pool was closed while a job held it: that job's result is not the program's doing. */
  closedUnderJob = false;
  /** Set by the session that holds it: told when the container died or the pool is closing. */
  onLost: ((why: string) => void) | null = null;

  constructor(language: string, limits: { memoryBytes: number; pids: number; cpus: number }) {
    this.language = language;
    this.memoryBytes = limits.memoryBytes;
    this.pids = limits.pids;
    this.cpus = limits.cpus;
  }

  get state(): PooledState {
    return this.current;
  }

  /** Fit to hand out: warm, and its prepared exec (if it has one) still waiting. */
  get healthy(): boolean {
    return this.current === 'warm' && (this.prepared === null || this.prepared.alive);
  }

  /** Move to `next`; throws on a transition the lifecycle does not allow (a pool bug). */
  to(next: PooledState): void {
    if (!NEXT[this.current].includes(next)) {
      throw new Error(`Pooled container ${this.id ?? '(new)'}: ${this.current} → ${next} is not allowed`);
    }
    this.current = next;
    // An unused prepared exec (a job cancelled before it ran) only keeps a bash waiting.
    if (next === 'spent' || next === 'destroying') this.dropPrepared();
  }

  /** Run argv in this container: in the prepared exec if there is one (once), else a new exec. */
  exec(docker: Pick<SandboxDriver, 'exec'>, request: ExecRequest): Promise<number | null> {
    const prepared = this.prepared;
    this.prepared = null;
    if (prepared !== null) return prepared.run(request);
    return docker.exec(this.id ?? '', request);
  }

  /**
   * The driver a job runs with: the pool's own, except that the job's first exec lands in the
   * prepared one. It delegates through its prototype, so whatever else execute-job calls is the
   * pool driver's own method.
   */
  jobDriver<D extends Pick<SandboxDriver, 'exec'>>(docker: D): D {
    const driver: D = Object.create(docker);
    driver.exec = (_containerId, request) => this.exec(docker, request);
    return driver;
  }

  private dropPrepared(): void {
    this.prepared?.discard();
    this.prepared = null;
  }
}
