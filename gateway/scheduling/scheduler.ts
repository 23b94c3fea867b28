// The scheduler: pure decisions over plain data — which queued job goes to which runner, whether
// a job that waited too long keeps waiting, whether a job whose runner vanished runs again. No
// sockets, no timers, no store: the dispatcher feeds it snapshots and carries out what it
// returns, so every rule here is tested in milliseconds (scheduler.test.ts).
//
// The rules, in order of precedence:
// - a runner is eligible for a job when it accepts offers (ready: not paused, not draining), has
//   a free slot, offers the language (not merely builds it), has every label the job asks for,
//   has not refused the job before, and its tier is one the job allows;
// - among eligible runners the least loaded wins (load per slot), then the one with more free
//   slots, then the smaller id (deterministic);
// - jobs that were running and came back (requeued) go first, in queue order;
// - then clients share fairly: the next job is the head of the client with the fewest jobs
//   running or planned, ties going to the client served least recently, then to the one whose
//   head has waited longest — so one API key with a thousand queued jobs cannot starve another
//   key's single job, even on a single slot;
// - a job that cannot be placed does not hold up the jobs behind it.

/** A queued job, as the scheduler needs it. */
export interface SchedJob {
  id: string;
  lang: string;
  labels: readonly string[];
  /** Who submitted it (fair share is per client); null shares one anonymous lane. */
  client: string | null;
  /** Attempts so far (0 for a job never started). */
  attempt: number;
  /** It ran on a runner that went away (or was offered and came back): it goes first. */
  requeued: boolean;
  /** Runners that refused it: it is not offered to them again. */
  refusedBy: readonly string[];
  /** Which runner tiers may run it: `trusted` only, or `any` (donors too). */
  trust: 'trusted' | 'any';
  /** Runner identities it must not run on (where its sibling replicas run or ran). */
  avoid?: readonly string[];
  /** The verified job it is a replica of: two replicas of one group never share an identity. */
  group?: string | null;
}

/** A connected runner, as the scheduler needs it. */
export interface SchedRunner {
  id: string;
  /** Ready for offers: connected, not paused, not draining. */
  accepting: boolean;
  /** Leaving for good: it will never take another job (a paused runner may). */
  draining?: boolean;
  /** Languages it runs now (canonical names). */
  languages: readonly string[];
  /** Languages whose images it is building: offered later. */
  building: readonly string[];
  labels: readonly string[];
  slots: number;
  /** Slots in use: jobs offered or running, and sessions. */
  load: number;
  tier: 'trusted' | 'donor';
  /**
   * Who answers for its results: a donor's enrollment token (one donor, however many runners it
   * connects), or the runner's own id. Default: the id.
   */
  identity?: string;
  /** `doubtful`: its results disagreed with others' lately — it is offered work after the others. */
  standing?: 'good' | 'doubtful';
}

export interface Offer {
  jobId: string;
  runnerId: string;
}

export interface PlanInput {
  /** Waiting jobs in queue order (requeued ones first, then by arrival). */
  queue: readonly SchedJob[];
  runners: readonly SchedRunner[];
  /** Jobs running now, per client, for fair share. Missing clients run none. */
  running?: ReadonlyMap<string, number>;
  /** When each client last had a job offered (any increasing number); never: missing. */
  lastServed?: ReadonlyMap<string, number>;
}

/** What placement needs to know of a job or a session. */
export type Placement = Pick<SchedJob, 'lang' | 'labels' | 'refusedBy' | 'trust' | 'avoid'>;

function tierAllowed(trust: SchedJob['trust'], tier: SchedRunner['tier']): boolean {
  return trust === 'any' || tier === 'trusted';
}

/** Whether `runner` could run the job at some point (free slot or not). */
function suits(runner: SchedRunner, job: Placement): boolean {
  return (
    runner.languages.includes(job.lang) &&
    job.labels.every((label) => runner.labels.includes(label)) &&
    !job.refusedBy.includes(runner.id) &&
    tierAllowed(job.trust, runner.tier) &&
    !(job.avoid?.includes(identityOf(runner)) ?? false)
  );
}

export function identityOf(runner: SchedRunner): string {
  return runner.identity ?? runner.id;
}

/** Good standing first, then least load per slot, then most free slots, then smallest id. */
function better(a: SchedRunner, b: SchedRunner): boolean {
  const da = a.standing === 'doubtful';
  const db = b.standing === 'doubtful';
  if (da !== db) return db;
  const la = a.load / a.slots;
  const lb = b.load / b.slots;
  if (la !== lb) return la < lb;
  const fa = a.slots - a.load;
  const fb = b.slots - b.load;
  if (fa !== fb) return fa > fb;
  return a.id < b.id;
}

/** The runner a job or session would be placed on now, or undefined if none can take it. */
export function pickRunner<R extends SchedRunner>(runners: readonly R[], job: Placement): R | undefined {
  let best: R | undefined;
  for (const runner of runners) {
    if (!runner.accepting || runner.load >= runner.slots || !suits(runner, job)) continue;
    if (best === undefined || better(runner, best)) best = runner;
  }
  return best;
}

/** The offers to make now. Runners' loads are taken as given and grow with each planned offer. */
export function plan({ queue, runners, running = new Map(), lastServed = new Map() }: PlanInput): Offer[] {
  // Private copies: the plan's own offers raise the load of the runners it picks.
  const pool = runners.filter((r) => r.accepting && r.load < r.slots).map((r) => ({ ...r }));
  let free = pool.reduce((sum, r) => sum + (r.slots - r.load), 0);
  const offers: Offer[] = [];
  if (free === 0) return offers;
  // Placement needs that failed once fail for every later job in this pass (loads only grow).
  const hopeless = new Set<string>();
  // Identities each replica group was placed on in this pass (replicas never share one).
  const groupUsed = new Map<string, string[]>();
  const place = (job: SchedJob): boolean => {
    const constrained = job.refusedBy.length > 0 || (job.avoid?.length ?? 0) > 0 || job.group;
    const key = constrained ? null : `${job.lang}\0${job.trust}\0${job.labels.join('\0')}`;
    if (key !== null && hopeless.has(key)) return false;
    const used = job.group ? groupUsed.get(job.group) : undefined;
    const runner = pickRunner(pool, used ? { ...job, avoid: [...(job.avoid ?? []), ...used] } : job);
    if (runner === undefined) {
      if (key !== null) hopeless.add(key);
      return false;
    }
    if (job.group) groupUsed.set(job.group, [...(used ?? []), identityOf(runner)]);
    runner.load++;
    free--;
    offers.push({ jobId: job.id, runnerId: runner.id });
    return true;
  };

  // Each client's lane: its jobs (with their queue positions) in order, its running count, and
  // when it was last served.
  interface Lane {
    jobs: SchedJob[];
    at: number[];
    next: number;
    load: number;
    served: number;
    order: number;
  }
  const lanes = new Map<string, Lane>();
  // Offers in this pass count as the most recent service, in the order they are made.
  let serial = 0;
  for (const served of lastServed.values()) if (served > serial) serial = served;
  const laneOf = (client: string, index: number): Lane => {
    let lane = lanes.get(client);
    if (lane === undefined) {
      const served = lastServed.get(client) ?? Number.NEGATIVE_INFINITY;
      lane = { jobs: [], at: [], next: 0, load: running.get(client) ?? 0, served, order: index };
      lanes.set(client, lane);
    }
    return lane;
  };
  for (const [index, job] of queue.entries()) {
    const lane = laneOf(job.client ?? '', index);
    if (!job.requeued) {
      lane.jobs.push(job);
      lane.at.push(index);
    } else if (free > 0 && place(job)) {
      lane.load++;
      lane.served = ++serial;
    }
  }

  // Round-robin by running count: each turn serves the client with the fewest jobs running or
  // planned (ties: whose head job is oldest). A client out of placeable jobs leaves the round.
  const active = [...lanes.values()].filter((lane) => lane.jobs.length > 0);
  for (const lane of active) lane.order = lane.at[0]!;
  while (free > 0 && active.length > 0) {
    let turn = 0;
    for (let i = 1; i < active.length; i++) {
      const a = active[i]!;
      const b = active[turn]!;
      if (
        a.load !== b.load ? a.load < b.load : a.served !== b.served ? a.served < b.served : a.order < b.order
      ) {
        turn = i;
      }
    }
    const lane = active[turn]!;
    let placed = false;
    while (lane.next < lane.jobs.length && !placed) placed = place(lane.jobs[lane.next++]!);
    if (placed) {
      lane.load++;
      lane.served = ++serial;
      // The lane's age is now that of its next job: keep queue order between clients.
      lane.order = lane.at[lane.next] ?? Number.POSITIVE_INFINITY;
    }
    if (lane.next >= lane.jobs.length) active.splice(turn, 1);
  }
  return offers;
}

/**
 * Whether any connected runner could ever take the job: `yes` (one offers it, busy or paused),
 * `building` (one is building its language's image), or `no` (waiting is pointless).
 */
export function canEverRun(job: Placement, runners: readonly SchedRunner[]): 'yes' | 'building' | 'no' {
  let building = false;
  for (const runner of runners) {
    if (runner.draining) continue;
    if (suits(runner, job)) return 'yes';
    if (
      runner.building.includes(job.lang) &&
      job.labels.every((label) => runner.labels.includes(label)) &&
      !job.refusedBy.includes(runner.id) &&
      tierAllowed(job.trust, runner.tier) &&
      !(job.avoid?.includes(identityOf(runner)) ?? false)
    ) {
      building = true;
    }
  }
  return building ? 'building' : 'no';
}

export type WaitVerdict =
  | { wait: true; because: 'busy' | 'building' }
  | { wait: false; error: { code: string; message: string } };

/**
 * A job has waited a whole queue timeout: a backlog is not an outage, so it keeps waiting while
 * some runner could take it; otherwise it fails with the clearest reason.
 */
export function waitVerdict(
  job: Placement & Pick<SchedJob, 'attempt'>,
  runners: readonly SchedRunner[],
  timeoutMs: number,
): WaitVerdict {
  const can = canEverRun(job, runners);
  if (can !== 'no') return { wait: true, because: can === 'building' ? 'building' : 'busy' };
  return { wait: false, error: whyNotRun(job, timeoutMs) };
}

/** The error of a job nobody could run within `waitedMs`. */
export function whyNotRun(
  job: Placement & Pick<SchedJob, 'attempt'>,
  waitedMs: number | null,
): { code: string; message: string } {
  const within = waitedMs === null ? '' : ` within ${waitedMs / 1000} s`;
  if (job.attempt > 0) {
    return {
      code: 'runner_lost',
      message: `The runner went away during attempt ${job.attempt}, and no other runner took the job${within}`,
    };
  }
  if (job.refusedBy.length > 0) {
    return { code: 'runner_rejected', message: 'Every runner that could run the job rejected it' };
  }
  const labels = job.labels.length > 0 ? ` with labels ${job.labels.join(', ')}` : '';
  const runner = job.trust === 'trusted' ? 'trusted runner' : 'runner';
  if ((job.avoid?.length ?? 0) > 0) {
    return {
      code: 'no_runner',
      message:
        `No ${runner} offering ${job.lang}${labels} other than those that ran its other replicas ` +
        `took this replica${within}: verification needs runners of different identities`,
    };
  }
  if (waitedMs === null) {
    return {
      code: 'no_runner',
      message:
        `No connected ${runner} offers ${job.lang}${labels}, and none is building it. ` +
        'Set queue_timeout_ms to wait for one',
    };
  }
  return { code: 'no_runner', message: `No ${runner} offering ${job.lang}${labels} took the job${within}` };
}

/**
 * A running job's runner went away for good (or its lease ran out): run it again, or fail it.
 * Only infrastructure failures come here; an interactive job's input cannot be replayed and a
 * session's sandbox is gone, so those fail.
 */
export function afterRunnerLost(
  job: { attempt: number; interactive: boolean; session_id: string | null },
  maxAttempts: number,
): 'requeue' | 'fail' {
  if (job.interactive || job.session_id !== null) return 'fail';
  return job.attempt < maxAttempts ? 'requeue' : 'fail';
}
