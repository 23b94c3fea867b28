// Keeps this gateway in its fleet (fleet.ts): beats to renew its lease, and on each beat claims
// what gateways whose lease ran out left behind — their queued and running jobs (handed to the
// dispatcher's takeOver) and their undelivered callbacks. It also answers for jobs a runner
// reports held that this gateway does not know: claimed at once if their owner is gone, asked
// again on the next beats while a living gateway keeps them, dropped after two leases.
// A fleet of one (SoloFleet) has nothing to claim: the keeper only beats.
import type { JobRecord, Logger } from '../../shared/index.js';
import type { RunnerConnection } from '../runners/runner-connection.js';
import { isUnfinished } from '../store/job-transitions.js';
import type { Fleet, MemberInfo } from './fleet.js';

/** Most jobs one claim takes; more are taken by the next claims of the same beat. */
const CLAIM_BATCH = 500;

export interface FleetKeeperOptions {
  fleet: Fleet;
  /** How long a lease lasts without a beat (CODEEXEC_GATEWAY_TTL_MS); beats come thrice as often. */
  ttlMs: number;
  /** What this gateway shows the fleet now. */
  info: () => MemberInfo;
  /** The names of the runners connected here now. */
  runners: () => string[];
  /** Takes over unfinished jobs claimed from a gateway that is gone. */
  takeOver: (jobs: JobRecord[]) => void;
  /** A runner's held job the fleet will not give us: the runner drops it. */
  refuseHeld: (runner: RunnerConnection, id: string) => void;
  /** Delivers the callback of a finished job claimed from a gateway that is gone. */
  deliverCallback: (job: JobRecord) => void;
  log: Logger;
  /** The time, ms (tests pass a fake one). Default Date.now. */
  now?: () => number;
}

interface PendingClaim {
  runner: RunnerConnection;
  id: string;
  /** When the first answer was `owned` (ms): after two leases, the runner drops the job. */
  since: number;
}

export class FleetKeeper {
  readonly #o: FleetKeeperOptions;
  readonly #pending = new Map<string, PendingClaim>();
  #timer: NodeJS.Timeout | null = null;
  #beating: Promise<void> | null = null;
  #stopped = false;

  constructor(options: FleetKeeperOptions) {
    this.#o = options;
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  get fleet(): Fleet {
    return this.#o.fleet;
  }

  /** Takes this gateway's lease (before it recovers its own jobs: nobody claims them meanwhile). */
  async join(): Promise<void> {
    await this.#o.fleet.beat(this.#o.ttlMs, this.#o.info());
  }

  /** Starts beating, with a first claim at once. */
  start(): Promise<void> {
    const every = Math.max(50, Math.floor(this.#o.ttlMs / 3));
    this.#timer = setInterval(() => void this.beat(), every);
    this.#timer.unref();
    return this.beat();
  }

  /** One beat: renew the lease, claim what the gone left, ask again for runners' held jobs. */
  beat(): Promise<void> {
    this.#beating ??= this.#beat().finally(() => {
      this.#beating = null;
    });
    return this.#beating;
  }

  /** Stops beating and ends the lease: the others may claim at once what this gateway leaves. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    await this.#beating;
    for (const { runner, id } of this.#pending.values()) this.#o.refuseHeld(runner, id);
    this.#pending.clear();
    try {
      await this.#o.fleet.leave();
    } catch (err) {
      this.#o.log.warn(
        { err },
        'could not end this gateway’s lease; the others claim its jobs when it runs out',
      );
    }
  }

  /** A runner connected here holds job `id`, which this gateway does not know: ask the fleet. */
  claimHeld(runner: RunnerConnection, id: string): void {
    if (!this.#o.fleet.shared || this.#stopped) {
      this.#o.refuseHeld(runner, id);
      return;
    }
    this.#pending.set(id, { runner, id, since: this.#now() });
    void this.#claimHeld(this.#pending.get(id)!);
  }

  async #beat(): Promise<void> {
    if (this.#stopped) return;
    const { fleet, log } = this.#o;
    try {
      await fleet.beat(this.#o.ttlMs, this.#o.info());
    } catch (err) {
      log.warn({ err }, 'could not renew this gateway’s lease');
      return;
    }
    if (!fleet.shared) return;
    try {
      for (;;) {
        const jobs = await fleet.claimOrphans(this.#o.runners(), this.#o.ttlMs, CLAIM_BATCH);
        if (this.#stopped || jobs.length === 0) break;
        this.#adopt(jobs);
        if (jobs.length < CLAIM_BATCH) break;
      }
    } catch (err) {
      log.warn({ err }, 'could not claim the jobs of gateways that are gone');
    }
    await Promise.all([...this.#pending.values()].map((pending) => this.#claimHeld(pending)));
  }

  #adopt(jobs: JobRecord[]): void {
    const unfinished = jobs.filter((job) => isUnfinished(job.status));
    this.#o.log.warn(
      { jobs: unfinished.length, callbacks: jobs.length - unfinished.length },
      'took over the work of a gateway that is gone',
    );
    if (unfinished.length > 0) this.#o.takeOver(unfinished);
    for (const job of jobs) if (!isUnfinished(job.status)) this.#o.deliverCallback(job);
  }

  async #claimHeld(pending: PendingClaim): Promise<void> {
    const { runner, id } = pending;
    let answer: Awaited<ReturnType<Fleet['claimHeld']>>;
    try {
      answer = await this.#o.fleet.claimHeld(id, runner.name);
    } catch (err) {
      // The database is away: the next beat asks again (within the same two leases).
      this.#o.log.warn({ job_id: id, runner_id: runner.name, err }, 'could not claim a job a runner holds');
      answer = { kind: 'owned', owner: '(unknown)' };
    }
    if (this.#pending.get(id) !== pending) return;
    if (answer.kind === 'owned' && this.#now() - pending.since < 2 * this.#o.ttlMs) return;
    this.#pending.delete(id);
    if (answer.kind === 'claimed') this.#o.takeOver([answer.job]);
    else this.#o.refuseHeld(runner, id);
  }
}
