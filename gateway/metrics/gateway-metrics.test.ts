import { describe, expect, it, vi } from 'vitest';
import type { JobRecord, RunnerView } from '../../shared/index.js';
import { InProcessBus } from '../bus/in-process-bus.js';
import { JobEvents } from '../events/job-events.js';
import type { FleetMember } from '../fleet/fleet.js';
import { newJob } from '../jobs/new-job.js';
import type { RunnerConnection } from '../runners/runner-connection.js';
import { GatewayMetrics, type MetricsSources } from './gateway-metrics.js';

function setup(over: Partial<MetricsSources> = {}) {
  const events = new JobEvents(new InProcessBus());
  const metrics = new GatewayMetrics({
    events,
    registry: { all: () => [].values() },
    queuedByLanguage: () => new Map(),
    clientSockets: () => 0,
    fleet: { id: 'gw-self', members: async () => [] },
    log: { warn: () => {} },
    ...over,
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

describe('GatewayMetrics: the fleet gauges', () => {
  const member = (id: string, runners: number): FleetMember => ({
    id,
    url: `http://${id}:8080`,
    runners: Array.from({ length: runners }, (_v, i) => ({ name: `${id}-r${i}` }) as RunnerView),
    expires_at: '2026-05-04T12:00:10.000Z',
  });

  it('count the living gateways and the runners of each: this one’s live, the others’ as beaten', async () => {
    const members = vi.fn(async () => [member('gw-self', 0), member('gw-other', 2)]);
    const live = [{ name: 'here' }] as RunnerConnection[];
    const { metrics } = setup({ fleet: { id: 'gw-self', members }, registry: { all: () => live.values() } });
    const text = await metrics.text();
    expect(text).toContain('\ncodeexec_fleet_gateways 2\n');
    expect(text).toContain('\ncodeexec_fleet_runners{gateway="gw-self"} 1\n');
    expect(text).toContain('\ncodeexec_fleet_runners{gateway="gw-other"} 2\n');
    // One read of the fleet for both gauges.
    expect(members).toHaveBeenCalledTimes(1);
    metrics.close();
  });

  it('a fleet that cannot be read leaves them out of the scrape, which still answers (logged)', async () => {
    let failing = false;
    const fleet = {
      id: 'gw-self',
      members: async () => {
        if (failing) throw new Error('database away');
        return [member('gw-self', 0), member('gw-other', 1)];
      },
    };
    const warn = vi.fn();
    const { metrics } = setup({ fleet, log: { warn } });
    expect(await metrics.text()).toContain('\ncodeexec_fleet_runners{gateway="gw-other"} 1\n');
    failing = true;
    const text = await metrics.text();
    expect(text).toContain('# TYPE codeexec_fleet_gateways gauge');
    expect(text).not.toMatch(/^codeexec_fleet_gateways /m);
    expect(text).not.toMatch(/^codeexec_fleet_runners\{/m);
    expect(text).toContain('\ncodeexec_client_sockets 0\n');
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ err: expect.any(Error) }),
      expect.any(String),
    );
    failing = false;
    expect(await metrics.text()).toContain('\ncodeexec_fleet_gateways 2\n');
    metrics.close();
  });
});
