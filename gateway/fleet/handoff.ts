// Which queued jobs a gateway hands to another gateway of its fleet, decided on plain data: the
// fleet shares one queue in effect, because a job waiting here moves to a gateway whose runners
// can take it. A job moves when no runner here could ever run it (none has its language, labels
// or tier) and a runner elsewhere could; or when it has waited `afterMs` with every suitable
// runner here busy, to a gateway whose suitable runners have free slots (no more jobs than those
// slots: a handoff must not just move a backlog around). Pure: the keeper (fleet-keeper.ts) carries
// it out, with the runners other gateways showed at their last beat.
import type { RunnerView } from '../../shared/index.js';
import { canEverRun, type Placement, type SchedRunner } from '../scheduling/scheduler.js';

export interface QueuedHere {
  id: string;
  placement: Placement;
  /** How long it has waited here, ms. */
  waitedMs: number;
}

export interface HandoffInput {
  /** Jobs waiting here for a runner, in queue order (not offered, free to move). */
  queued: readonly QueuedHere[];
  /** This gateway's runners. */
  here: readonly SchedRunner[];
  /** The other living gateways and their runners (as of their last beat). */
  others: readonly { gateway: string; runners: readonly SchedRunner[] }[];
  /** How long a job that could run here waits for a slot before it may move. */
  afterMs: number;
  /** Jobs handed to each gateway since its runners were read: they take its free slots already. */
  sent?: ReadonlyMap<string, number>;
}

export interface Handoff {
  jobId: string;
  to: string;
}

export function planHandoffs({ queued, here, others, afterMs, sent }: HandoffInput): Handoff[] {
  if (others.length === 0) return [];
  // Slots of each gateway taken by jobs sent there, before and in this plan.
  const taken = new Map<string, number>(sent);
  const moves: Handoff[] = [];
  for (const job of queued) {
    const runnable = canEverRun(job.placement, here);
    if (runnable === 'no') {
      const to = roomiest(job.placement, others, taken, false);
      if (to !== undefined) moves.push(take(job.id, to, taken));
    } else if (job.waitedMs >= afterMs && freeFor(job.placement, here) === 0) {
      const to = roomiest(job.placement, others, taken, true);
      if (to !== undefined) moves.push(take(job.id, to, taken));
    }
  }
  return moves;
}

/** A runner another gateway showed at its last beat, as the scheduler reads runners. */
export function schedRunnerOf(view: RunnerView): SchedRunner {
  return {
    id: view.name,
    identity: view.identity,
    accepting: view.state === 'ready',
    draining: view.state === 'draining',
    languages: view.languages,
    building: [],
    labels: view.labels,
    slots: view.slots,
    load: view.load,
    tier: view.tier,
    standing: view.reliability.standing,
  };
}

function take(jobId: string, to: string, taken: Map<string, number>): Handoff {
  taken.set(to, (taken.get(to) ?? 0) + 1);
  return { jobId, to };
}

/** Free slots of accepting runners that suit the job. */
function freeFor(placement: Placement, runners: readonly SchedRunner[]): number {
  let free = 0;
  for (const runner of runners) {
    if (runner.accepting && canEverRun(placement, [runner]) === 'yes')
      free += Math.max(0, runner.slots - runner.load);
  }
  return free;
}

/**
 * The gateway with the most free suitable slots left after this plan's moves (ties: the first
 * listed). `needRoom`: only one with a slot left; otherwise any whose runners could run the job.
 */
function roomiest(
  placement: Placement,
  others: HandoffInput['others'],
  taken: ReadonlyMap<string, number>,
  needRoom: boolean,
): string | undefined {
  let best: { gateway: string; room: number } | undefined;
  for (const { gateway, runners } of others) {
    if (canEverRun(placement, runners) === 'no') continue;
    const room = freeFor(placement, runners) - (taken.get(gateway) ?? 0);
    if (needRoom && room <= 0) continue;
    if (best === undefined || room > best.room) best = { gateway, room };
  }
  return best?.gateway;
}
