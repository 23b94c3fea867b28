// The in-process bus passes the Bus conformance suite: its one "system" is one bus, which every
// gateway part of the process shares (join gives the same bus each time).
import { expect, it } from 'vitest';
import { collect, describeBus } from './bus-conformance.js';
import { InProcessBus } from './in-process-bus.js';

describeBus('InProcessBus', async () => {
  const bus = new InProcessBus();
  return { join: async () => bus, settle: async () => {}, cleanup: () => bus.close() };
});

it('forgets a job once its last subscriber left', () => {
  const bus = new InProcessBus();
  const first = collect(bus, 'job-1');
  const second = collect(bus, 'job-1');
  expect(bus.subscribedJobs).toBe(1);
  first.stop();
  second.stop();
  expect(bus.subscribedJobs).toBe(0);
});
