// Plain-data runners for the tests of scheduling decisions (scheduler.test.ts, fleet/handoff.test.ts):
// ready, trusted, python, two free slots, unless told otherwise.
import type { SchedRunner } from './scheduler.js';

export function schedRunner(over: Partial<SchedRunner> = {}): SchedRunner {
  return {
    id: 'r1',
    accepting: true,
    languages: ['python'],
    building: [],
    labels: [],
    slots: 2,
    load: 0,
    tier: 'trusted',
    ...over,
  };
}
