// The operator's view of the connected runners: what `GET /runners` answers and the dashboard's
// socket shows (tier, state, slots in use, jobs done, languages, reliability, last heartbeat).
import type { RunnerView } from '../../shared/index.js';
import { agreementRate, NEW_RELIABILITY, standingOf } from '../scheduling/reliability.js';
import type { ReliabilityBook } from './reliability-book.js';
import type { RunnerConnection } from './runner-connection.js';
import type { RunnerRegistry } from './runner-registry.js';

/** A runner identity's record of verified results, as the operator reads it. */
export function reliabilityView(reliability: Pick<ReliabilityBook, 'get'>, identity: string) {
  const record = reliability.get(identity) ?? NEW_RELIABILITY;
  return {
    agreed: record.agreed,
    disagreed: record.disagreed,
    streak: record.streak,
    rate: agreementRate(record),
    standing: standingOf(record),
    quarantined: record.quarantined,
  };
}

export function runnerView(runner: RunnerConnection, reliability: Pick<ReliabilityBook, 'get'>): RunnerView {
  const identity = runner.identity || runner.name;
  const record = reliabilityView(reliability, identity);
  const state = record.quarantined
    ? 'quarantined'
    : runner.state === 'draining'
      ? 'draining'
      : runner.paused
        ? 'paused'
        : 'ready';
  return {
    name: runner.name,
    identity,
    tier: runner.tier,
    state,
    version: runner.version,
    slots: runner.slots,
    load: runner.load,
    running: runner.running.size,
    jobs_done: runner.jobsDone,
    languages: [...runner.languages.keys()].sort(),
    labels: [...runner.labels],
    reliability: record,
    last_seen_at: new Date(runner.lastSeen).toISOString(),
  };
}

/** Every connected runner, by name. */
export function runnerViews(
  registry: Pick<RunnerRegistry, 'all'>,
  reliability: Pick<ReliabilityBook, 'get'>,
): RunnerView[] {
  return [...registry.all()]
    .map((runner) => runnerView(runner, reliability))
    .sort((a, b) => a.name.localeCompare(b.name));
}
