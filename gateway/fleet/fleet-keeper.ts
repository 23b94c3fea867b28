// Keeps this gateway in its fleet (fleet.ts): beats to renew its lease, and on each beat claims
// what gateways whose lease ran out left behind — their queued and running jobs (handed to the
// dispatcher's takeOver) and their undelivered callbacks. It also answers for jobs a runner
// reports held that this gateway does not know: claimed at once if their owner is gone, asked
// again on the next beats while a living gateway keeps them, dropped after two leases.
// It shares the queue too: with the runners other gateways showed at their last beat, it hands
// them queued jobs they can run and this gateway cannot (handoff.ts decides), and it takes the
// jobs handed to this one when nudged (and on each beat, should a nudge be lost).
// After the database was out of reach (its beats failing), a keeper claims nothing for one lease:
// the others may not have beaten again yet, and their leases look run out. And if its own lease
// may have run out meanwhile, it asks which of its jobs the others claimed, and lets go of them.
// A fleet of one (SoloFleet) has nothing to claim or hand: the keeper only beats.
import type { JobRecord, Logger } from '../../shared/index.js';
import type { RunnerConnection } from '../runners/runner-connection.js';
import type { SchedRunner } from '../scheduling/scheduler.js';
import { isUnfinished } from '../store/job-transitions.js';
import { type Fleet, type MemberInfo, NO_USAGE, type UsageElsewhere } from './fleet.js';
import { planHandoffs, type QueuedHere, schedRunnerOf } from './handoff.js';

/** Most jobs one claim takes; more are taken by the next claims of the same beat. */
const CLAIM_BATCH = 500;
/** How long a job that could run here waits for a slot before it may move to a roomier gateway. */
export const HANDOFF_AFTER_MS = 2_000;
/** How often at most another gateway's word that it has room makes this one read the fleet. */
const REFRESH_MS = 500;

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
  /** Queued jobs free to move (Dispatcher.movable) and this gateway's runners. */
  movable: () => QueuedHere[];
  here: () => readonly SchedRunner[];
  /** Hands jobs over: out of the queue while `move` runs (Dispatcher.handOff). */
  handOff: (ids: readonly string[], move: (ids: string[]) => Promise<string[]>) => Promise<string[]>;
  /** The ids of the unfinished jobs this gateway holds, and how it lets go of some (Dispatcher). */
  owned: () => string[];
  letGo: (ids: string[]) => void;
  /** This gateway left the fleet (the bus wakes the others). */
  left?: () => void;
  /** Tells gateway `to` that jobs were handed to it (the bus). */
  nudge: (to: string) => void;
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
  /** The other gateways' runners as of the last members() read, and what was handed since. */
  #others: { gateway: string; runners: SchedRunner[] }[] = [];
  readonly #sentSince = new Map<string, number>();
  #handing: Promise<void> | null = null;
  #handAgain = false;
  #taking: Promise<void> | null = null;
  /** When the last beat succeeded (ms). */
  #lastBeat: number | null = null;
  /** Since when beats have succeeded without a failure (ms); null after a failed one. */
  #steadySince: number | null = null;
  /** When the other gateways' runners were last read (ms), and whether a handoff pass is due. */
  #readAt = Number.NEGATIVE_INFINITY;
  #handOffSoon = false;
  /** The other gateways' unfinished jobs, as the caps count them (as of #readAt). */
  #usage: UsageElsewhere = NO_USAGE;

  constructor(options: FleetKeeperOptions) {
    this.#o = options;
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  get fleet(): Fleet {
    return this.#o.fleet;
  }

  /** The other gateways' unfinished jobs, as the caps count them (as of this gateway's last beat). */
  usageElsewhere(): UsageElsewhere {
    return this.#usage;
  }

  /** How many gateways live, this one included (as of the last read of the fleet). */
  gateways(): number {
    return 1 + this.#others.length;
  }

  /** The runners of the other gateways, as of their last beat (admission counts them). */
  elsewhere(): SchedRunner[] {
    return this.#others.flatMap((other) => other.runners);
  }

  /** Takes this gateway's lease (before it recovers its own jobs: nobody claims them meanwhile). */
  async join(): Promise<void> {
    await this.#renew();
  }

  /** Renews the lease (rejects if it cannot); resolves whether it may have run out since the last. */
  async #renew(): Promise<boolean> {
    try {
      await this.#o.fleet.beat(this.#o.ttlMs, this.#o.info());
    } catch (err) {
      this.#steadySince = null;
      throw err;
    }
    const now = this.#now();
    const lapsed = this.#lastBeat !== null && now - this.#lastBeat >= this.#o.ttlMs;
    this.#lastBeat = now;
    this.#steadySince ??= now;
    return lapsed;
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
    await this.#handing;
    for (const { runner, id } of this.#pending.values()) this.#o.refuseHeld(runner, id);
    this.#pending.clear();
    try {
      await this.#o.fleet.leave();
      // The others look again now, not at their next beat.
      this.#o.left?.();
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

  /**
   * Whether this gateway's beats have succeeded for a whole lease: the others have had the time
   * to beat too, so a lease that looks run out did run out. Until then it claims nothing.
   */
  #steady(): boolean {
    return this.#steadySince !== null && this.#now() - this.#steadySince >= this.#o.ttlMs;
  }

  async #beat(): Promise<void> {
    if (this.#stopped) return;
    const { fleet, log } = this.#o;
    let lapsed: boolean;
    try {
      lapsed = await this.#renew();
    } catch (err) {
      log.warn({ err }, 'could not renew this gateway’s lease');
      return;
    }
    if (!fleet.shared) return;
    if (lapsed) await this.#letGoOfClaimed();
    try {
      for (;;) {
        if (!this.#steady()) break;
        const jobs = await fleet.claimOrphans(this.#o.runners(), this.#o.ttlMs, CLAIM_BATCH);
        if (this.#stopped || jobs.length === 0) break;
        this.#adopt(jobs);
        if (jobs.length < CLAIM_BATCH) break;
      }
    } catch (err) {
      log.warn({ err }, 'could not claim the jobs of gateways that are gone');
    }
    await Promise.all([...this.#pending.values()].map((pending) => this.#claimHeld(pending)));
    await this.takeHanded();
    await this.#readFleet();
    await this.handOff();
  }

  /** Reads the other gateways' runners again (what they showed at their last beat). */
  async #readFleet(): Promise<void> {
    const { fleet } = this.#o;
    this.#readAt = this.#now();
    try {
      this.#usage = await fleet.usageElsewhere();
      const members = await fleet.members();
      this.#others = members
        .filter((member) => member.id !== fleet.id)
        .map((member) => ({ gateway: member.id, runners: member.runners.map(schedRunnerOf) }));
      this.#sentSince.clear();
    } catch (err) {
      this.#o.log.warn({ err }, 'could not read the fleet’s gateways');
    }
  }

  /**
   * Another gateway woke this one: its runners have room, or it left the fleet. A beat now (at
   * most every REFRESH_MS) reads the fleet again, hands it work, and claims what a gateway that
   * left leaves — queued jobs, and the jobs its runners, connected here now, report held.
   */
  roomElsewhere(): void {
    if (!this.#o.fleet.shared || this.#stopped) return;
    if (this.#now() - this.#readAt < REFRESH_MS) return;
    this.#readAt = this.#now();
    void this.beat();
  }

  /** A job joined the queue: one handoff pass soon, for all those queued meanwhile. */
  handOffSoon(): void {
    if (this.#handOffSoon || this.#others.length === 0) return;
    this.#handOffSoon = true;
    setImmediate(() => {
      this.#handOffSoon = false;
      void this.handOff();
    });
  }

  /** This gateway's lease may have run out: the jobs the others claimed meanwhile are theirs. */
  async #letGoOfClaimed(): Promise<void> {
    try {
      const gone = await this.#o.fleet.ownedElsewhere(this.#o.owned());
      if (gone.length === 0) return;
      this.#o.log.warn(
        { jobs: gone.length },
        'this gateway’s lease ran out, and others took some of its jobs',
      );
      this.#o.letGo(gone);
    } catch (err) {
      this.#o.log.warn({ err }, 'could not check which jobs are still this gateway’s');
    }
  }

  /** Takes the jobs other gateways handed to this one (on a nudge, and on each beat). */
  takeHanded(): Promise<void> {
    this.#taking ??= (async () => {
      try {
        const jobs = await this.#o.fleet.takeHanded();
        if (jobs.length > 0 && !this.#stopped) this.#o.takeOver(jobs);
      } catch (err) {
        this.#o.log.warn({ err }, 'could not take the jobs handed to this gateway');
      }
    })().finally(() => {
      this.#taking = null;
    });
    return this.#taking;
  }

  /**
   * Hands to other gateways the queued jobs they can run better (handoff.ts). Called on each beat
   * and whenever work is queued; one pass at a time, and one more if asked meanwhile.
   */
  handOff(): Promise<void> {
    if (!this.#o.fleet.shared || this.#others.length === 0 || this.#stopped) return Promise.resolve();
    if (this.#handing !== null) {
      this.#handAgain = true;
      return this.#handing;
    }
    this.#handing = this.#handOffPass().finally(() => {
      this.#handing = null;
      if (this.#handAgain) {
        this.#handAgain = false;
        void this.handOff();
      }
    });
    return this.#handing;
  }

  async #handOffPass(): Promise<void> {
    const moves = planHandoffs({
      queued: this.#o.movable(),
      here: this.#o.here(),
      others: this.#others,
      afterMs: HANDOFF_AFTER_MS,
      sent: this.#sentSince,
    });
    const byTarget = new Map<string, string[]>();
    for (const { jobId, to } of moves) byTarget.set(to, [...(byTarget.get(to) ?? []), jobId]);
    for (const [to, ids] of byTarget) {
      const moved = await this.#o.handOff(ids, (held) => this.#o.fleet.handOff(held, to));
      if (moved.length === 0) continue;
      this.#sentSince.set(to, (this.#sentSince.get(to) ?? 0) + moved.length);
      this.#o.nudge(to);
      this.#o.log.info({ to, jobs: moved.length }, 'handed queued jobs to another gateway');
    }
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
    if (!this.#steady()) {
      // Not yet (see #steady): asked on a later beat, within the same two leases.
      if (this.#now() - pending.since >= 2 * this.#o.ttlMs && this.#pending.get(id) === pending) {
        this.#pending.delete(id);
        this.#o.refuseHeld(runner, id);
      }
      return;
    }
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
