// The runner's metrics without Docker: RunnerMetrics fed by events and plain data (the families,
// their types and values, read back from the text a scrape gets); the metrics port's HTTP shell;
// and a runner over a FakeDocker and a fake gateway serving it on port 0 from start() to close().
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { silentLogger } from '../../shared/log.js';
import { readExposition, scrape } from '../../test/prometheus-text.js';
import { createRunner } from '../create-runner.js';
import type { LanguageStock } from '../pool/container-stock.js';
import { FakeDocker } from '../pool/sandbox-pool-fake.js';
import type { JobFinished, RunnerEvents } from '../runner-events.js';
import { FakeGateway, frameOf } from '../runner-fake-gateway.js';
import { TypedEmitter } from '../typed-emitter.js';
import { MetricsServer } from './metrics-server.js';
import { RunnerMetrics } from './runner-metrics.js';

/** Stands in for a runner: emits what a test tells it to. */
class FakeRunnerEvents extends TypedEmitter<RunnerEvents> {
  fire<K extends keyof RunnerEvents & string>(event: K, payload: RunnerEvents[K]): void {
    this.emit(event, payload);
  }
}

function finished(extra: Partial<JobFinished>): JobFinished {
  return {
    id: 'j',
    lang: 'python',
    reason: 'exited',
    exit_code: 0,
    error: null,
    wall_ms: 12,
    cpu_ms: 10,
    reported: true,
    ...extra,
  };
}

function stock(language: string, extra: Partial<LanguageStock> = {}): LanguageStock {
  return { language, starting: 0, warm: 0, inUse: 0, removing: 0, warmTarget: 1, waiting: 0, ...extra };
}

function metricsOver(pool: LanguageStock[] = [], slots = { total: 2, used: 0 }) {
  const events = new FakeRunnerEvents();
  const metrics = new RunnerMetrics({
    events,
    name: 'box-1',
    version: '9.9.9',
    stock: () => pool,
    slots: () => slots,
  });
  onTestFinished(() => metrics.close());
  return { events, metrics, read: async () => readExposition(await metrics.text()) };
}

describe('RunnerMetrics', () => {
  it('declares every family with its type, the process metrics, and its own content type', async () => {
    const { metrics, read } = metricsOver();
    const m = await read();
    expect(
      Object.fromEntries(
        [
          'codeexec_runner_info',
          'codeexec_runner_connected',
          'codeexec_runner_jobs_total',
          'codeexec_runner_container_operation_seconds',
          'codeexec_runner_container_operation_failures_total',
          'codeexec_runner_pool_containers',
          'codeexec_runner_pool_warm_target',
          'codeexec_runner_pool_waiting_jobs',
          'codeexec_runner_job_slots',
          'process_cpu_seconds_total',
          'process_start_time_seconds',
        ].map((name) => [name, m.type(name)]),
      ),
    ).toEqual({
      codeexec_runner_info: 'GAUGE',
      codeexec_runner_connected: 'GAUGE',
      codeexec_runner_jobs_total: 'COUNTER',
      codeexec_runner_container_operation_seconds: 'HISTOGRAM',
      codeexec_runner_container_operation_failures_total: 'COUNTER',
      codeexec_runner_pool_containers: 'GAUGE',
      codeexec_runner_pool_warm_target: 'GAUGE',
      codeexec_runner_pool_waiting_jobs: 'GAUGE',
      codeexec_runner_job_slots: 'GAUGE',
      process_cpu_seconds_total: 'COUNTER',
      process_start_time_seconds: 'GAUGE',
    });
    expect(m.value('codeexec_runner_info', { name: 'box-1', version: '9.9.9' })).toBe(1);
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('is connected from a welcome until the link drops, retries or the runner stops', async () => {
    const { events, read } = metricsOver();
    expect((await read()).value('codeexec_runner_connected')).toBe(0);
    const steps: [keyof RunnerEvents & string, RunnerEvents[keyof RunnerEvents], number][] = [
      ['connection', { state: 'connected', gateway: 'http://gw', runner_id: 'r' }, 1],
      ['connection', { state: 'disconnected', gateway: 'http://gw', code: 1006, reason: '' }, 0],
      ['connection', { state: 'retrying', gateway: 'http://gw', in_ms: 100 }, 0],
      ['connection', { state: 'connected', gateway: 'http://gw', runner_id: 'r' }, 1],
      ['stopped', undefined, 0],
    ];
    for (const [event, payload, connected] of steps) {
      events.fire(event, payload as never);
      expect((await read()).value('codeexec_runner_connected')).toBe(connected);
    }
  });

  it('counts ended jobs by language, status and reason', async () => {
    const { events, read } = metricsOver();
    const ended: Partial<JobFinished>[] = [
      { reason: 'exited' },
      { reason: 'exited' },
      { reason: 'wall_time', exit_code: null },
      { lang: 'go', reason: 'compile_failed' },
      { reason: null, exit_code: null, error: 'sandbox_failed' },
      { reason: null, exit_code: null, error: 'handed_back' },
      { reason: 'exited', session: 's1' },
    ];
    for (const job of ended) events.fire('job.finished', finished(job));
    const m = await read();
    const jobs = (lang: string, status: string, reason: string) =>
      m.value('codeexec_runner_jobs_total', { lang, status, reason });
    expect(jobs('python', 'done', 'exited')).toBe(3);
    expect(jobs('python', 'done', 'wall_time')).toBe(1);
    expect(jobs('go', 'done', 'compile_failed')).toBe(1);
    expect(jobs('python', 'failed', 'sandbox_failed')).toBe(1);
    expect(jobs('python', 'handed_back', 'none')).toBe(1);
    expect(m.samples('codeexec_runner_jobs_total')).toHaveLength(5);
  });

  it('times container operations by op, and counts the failed ones apart', async () => {
    const { events, read } = metricsOver();
    const before = await read();
    // Every op is there from the start (at 0), so rate() and histogram_quantile() see it.
    for (const op of ['create', 'start', 'exec', 'remove']) {
      expect(before.count('codeexec_runner_container_operation_seconds', { op })).toBe(0);
      expect(before.text).toContain(`codeexec_runner_container_operation_seconds_count{op="${op}"} 0`);
      expect(before.value('codeexec_runner_container_operation_failures_total', { op })).toBe(0);
    }
    events.fire('container.operation', { op: 'create', seconds: 0.12, failed: false });
    events.fire('container.operation', { op: 'create', seconds: 0.08, failed: false });
    events.fire('container.operation', { op: 'exec', seconds: 0.03, failed: false });
    events.fire('container.operation', { op: 'remove', seconds: 2, failed: true });
    const m = await read();
    expect(m.count('codeexec_runner_container_operation_seconds', { op: 'create' })).toBe(2);
    expect(m.count('codeexec_runner_container_operation_seconds', { op: 'exec' })).toBe(1);
    expect(m.count('codeexec_runner_container_operation_seconds', { op: 'remove' })).toBe(0);
    expect(m.text).toMatch(/codeexec_runner_container_operation_seconds_sum\{op="create"\} 0\.2/);
    expect(m.text).toContain('codeexec_runner_container_operation_seconds_bucket{le="0.1",op="create"} 1');
    expect(m.value('codeexec_runner_container_operation_failures_total', { op: 'remove' })).toBe(1);
  });

  it('reads the pool and the slots when scraped', async () => {
    const pool = [stock('python', { warm: 2, inUse: 1, starting: 1, warmTarget: 2 })];
    const slots = { total: 4, used: 1 };
    const { read } = metricsOver(pool, slots);
    let m = await read();
    expect(m.value('codeexec_runner_pool_containers', { lang: 'python', state: 'warm' })).toBe(2);
    expect(m.value('codeexec_runner_pool_containers', { lang: 'python', state: 'in_use' })).toBe(1);
    expect(m.value('codeexec_runner_pool_containers', { lang: 'python', state: 'starting' })).toBe(1);
    expect(m.value('codeexec_runner_pool_containers', { lang: 'python', state: 'removing' })).toBe(0);
    expect(m.value('codeexec_runner_pool_warm_target', { lang: 'python' })).toBe(2);
    expect(m.value('codeexec_runner_job_slots', { state: 'used' })).toBe(1);
    expect(m.value('codeexec_runner_job_slots', { state: 'free' })).toBe(3);

    // A burst: the warm ones are taken, a job waits for a creation, a language came and one went.
    pool.splice(0, 1, stock('python', { inUse: 3, starting: 1, removing: 2, waiting: 1 }), stock('go'));
    slots.used = 4;
    m = await read();
    expect(m.value('codeexec_runner_pool_containers', { lang: 'python', state: 'warm' })).toBe(0);
    expect(m.value('codeexec_runner_pool_containers', { lang: 'python', state: 'removing' })).toBe(2);
    expect(m.value('codeexec_runner_pool_waiting_jobs', { lang: 'python' })).toBe(1);
    expect(m.value('codeexec_runner_pool_containers', { lang: 'go', state: 'warm' })).toBe(0);
    expect(m.samples('codeexec_runner_pool_containers')).toHaveLength(8);
    expect(m.value('codeexec_runner_job_slots', { state: 'free' })).toBe(0);

    pool.splice(0);
    m = await read();
    expect(m.samples('codeexec_runner_pool_containers')).toEqual([]);
  });
});

describe('MetricsServer', () => {
  async function serve(text: () => Promise<string>) {
    const server = await MetricsServer.listen('127.0.0.1', 0, {
      text,
      contentType: 'text/plain; version=0.0.4',
    });
    onTestFinished(() => server.close());
    return server;
  }

  it('answers GET /metrics, 404 elsewhere, 405 for other methods, 500 when collecting fails', async () => {
    let fail = false;
    const server = await serve(async () => {
      if (fail) throw new Error('boom');
      return 'up 1\n';
    });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const ok = await fetch(server.url);
    expect([ok.status, ok.headers.get('content-type'), await ok.text()]).toEqual([
      200,
      'text/plain; version=0.0.4',
      'up 1\n',
    ]);
    expect((await fetch(`${server.url}?x=1`)).status).toBe(200);
    const base = server.url.replace(/\/metrics$/, '');
    for (const path of ['/', '/metrics/', '/other']) expect((await fetch(`${base}${path}`)).status).toBe(404);
    const post = await fetch(server.url, { method: 'POST' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    fail = true;
    const failed = await fetch(server.url);
    expect([failed.status, await failed.text()]).toEqual([500, 'collecting the metrics failed: boom\n']);
  });

  it('refuses a port that is taken', async () => {
    const first = await serve(async () => '');
    const port = Number(new URL(first.url).port);
    await expect(
      MetricsServer.listen('127.0.0.1', port, { text: async () => '', contentType: '' }),
    ).rejects.toThrow(/cannot serve metrics on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
  });
});

describe('a runner with a metrics port', () => {
  async function setUp(options: { metricsPort?: number } = {}) {
    const dataDir = await mkdtemp(join(tmpdir(), 'codeexec-runner-metrics-'));
    onTestFinished(() => rm(dataDir, { recursive: true, force: true }));
    const gateway = await FakeGateway.start();
    onTestFinished(() => gateway.close());
    const docker = new FakeDocker();
    docker.images.add('codeexec/python:latest');
    const runner = await createRunner({
      gatewayUrl: gateway.url,
      token: 't',
      dataDir,
      driver: docker,
      languages: ['python'],
      slots: 3,
      log: silentLogger,
      ...options,
    });
    onTestFinished(() => runner.close());
    return { runner, gateway };
  }

  it('serves from start() to close(): connected, the warm pool, slots, jobs', async () => {
    const { runner, gateway } = await setUp({ metricsPort: 0 });
    expect(runner.metricsUrl).toBeNull();
    await runner.start();
    const url = runner.metricsUrl;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    await runner.connected();
    await runner.settled();
    let m = await scrape(url ?? '');
    expect(m.value('codeexec_runner_connected')).toBe(1);
    expect(m.value('codeexec_runner_pool_containers', { lang: 'python', state: 'warm' })).toBe(1);
    expect(m.value('codeexec_runner_pool_warm_target', { lang: 'python' })).toBe(1);
    expect(m.value('codeexec_runner_job_slots', { state: 'free' })).toBe(3);
    expect(m.value('codeexec_runner_info', { name: runner.name })).toBe(1);

    gateway.offer('j1');
    await gateway.frame(frameOf('done', 'job_id', 'j1'));
    m = await scrape(url ?? '');
    expect(m.value('codeexec_runner_jobs_total', { lang: 'python', status: 'done', reason: 'exited' })).toBe(
      1,
    );

    await runner.close();
    expect(runner.metricsUrl).toBeNull();
    await expect(fetch(url ?? '')).rejects.toThrow();
  });

  it('has no metrics port unless asked, and refuses a port no socket can have', async () => {
    const { runner } = await setUp();
    await runner.start();
    expect(runner.metricsUrl).toBeNull();
    await expect(setUp({ metricsPort: 70000 })).rejects.toThrow(RangeError);
  });
});
