// A runner as another gateway shows it (RunnerView), for the fleet's tests: ready, trusted,
// python, two idle slots, unless told otherwise.
import type { RunnerView } from '../../shared/index.js';

export function runnerView(name: string, over: Partial<RunnerView> = {}): RunnerView {
  return {
    name,
    identity: name,
    tier: 'trusted',
    state: 'ready',
    version: '0.1.0',
    slots: 2,
    load: 0,
    running: 0,
    jobs_done: 0,
    languages: ['python'],
    labels: [],
    reliability: { agreed: 0, disagreed: 0, streak: 0, rate: null, standing: 'good', quarantined: false },
    last_seen_at: '2026-05-04T12:00:00.000Z',
    ...over,
  };
}
