import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../shared/index.js';
import { InProcessBus } from '../bus/in-process-bus.js';
import { JobEvents } from '../events/job-events.js';
import { newJob } from '../jobs/new-job.js';
import { GatewayMetrics } from './gateway-metrics.js';

function setup() {
  const events = new JobEvents(new InProcessBus());
  const metrics = new GatewayMetrics({
    events,
    registry: { all: () => [].values() },
    queuedByLanguage: () => new Map(),
    clientSockets: () => 0,
  });
  const finish = (over: Partial<JobRecord>) => {
    const job = {
      ...newJob({ lang: 'python', code: '' }, { lang: 'python', interactive: false, client: null }),
      ...over,
    };
    events.emit('job.finished', { job });
  };
  const count = async (labels: Record<string, string>) => {
    const metric = await metrics.registry.getSingleMetric('codeexec_jobs_total')?.get();
    const value = metric?.values.find((v) =>
      Object.entries(labels).every(([k, want]) => v.labels[k] === want),
    );
    return value?.value ?? 0;
  };
  return { metrics, finish, count };
}

describe('GatewayMetrics: codeexec_jobs_total', () => {
  it('labels a finished job with how its program ended, a failed one with its error code', async () => {
    const { finish, count, metrics } = setup();
    finish({ status: 'done', reason: 'exited' });
    finish({ status: 'failed', error: { code: 'runner_lost', message: 'gone' } });
    finish({ status: 'failed', error: { code: 'sandbox_failed', message: 'died' } });
    finish({ status: 'cancelled' });
    expect(await count({ status: 'done', reason: 'exited' })).toBe(1);
    expect(await count({ status: 'failed', reason: 'runner_lost' })).toBe(1);
    expect(await count({ status: 'failed', reason: 'sandbox_failed' })).toBe(1);
    expect(await count({ status: 'cancelled', reason: 'none' })).toBe(1);
    metrics.close();
  });

  it("does not count a verified job's replicas, only the job", async () => {
    const { finish, count, metrics } = setup();
    finish({ status: 'done', reason: 'exited', replica_of: 'the-job' });
    expect(await count({ status: 'done' })).toBe(0);
    metrics.close();
  });
});
