// End to end: a real runner (real Docker, the real gateway) with its metrics port on 0, scraped and
// read with a Prometheus text-format parser: it is linked to its gateway, its warm pool shows, the
// engine's container operations are timed, jobs are counted as they end, a running job holds a
// container and a slot, `codeexec runner --metrics-port 0` says where it listens, and the link
// going away shows. Every wait is on an event, a promise or expect.poll over scrapes; no sleeps.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../gateway/gateway.js';
import type { Runner } from '../runner/runner.js';
import { post, startGateway, startRunner, teardown, tempDir, uniqueName } from './helpers.js';
import { type Exposition, scrape } from './prometheus-text.js';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const OPS = ['create', 'start', 'exec', 'remove'] as const;
const OPERATION = 'codeexec_runner_container_operation_seconds';

let gateway: Gateway;
let url: string;
let token: string;
let runner: Runner;
let metricsUrl: string;

beforeAll(async () => {
  const gw = await startGateway();
  ({ gateway, url, token } = gw);
  runner = await startRunner({
    gatewayUrl: url,
    token,
    languages: ['python'],
    slots: 2,
    metricsPort: 0,
  });
  await runner.connected();
  metricsUrl = runner.metricsUrl ?? '';
});

const read = () => scrape(metricsUrl);
const opCounts = (m: Exposition) =>
  Object.fromEntries(OPS.map((op) => [op, m.count(OPERATION, { op })])) as Record<
    (typeof OPS)[number],
    number
  >;
const pool = (m: Exposition, state: string) =>
  m.value('codeexec_runner_pool_containers', { lang: 'python', state });

describe('the runner metrics port', () => {
  it('serves the families on 127.0.0.1, and nothing but /metrics', async () => {
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const m = await read();
    expect(m.type('codeexec_runner_connected')).toBe('GAUGE');
    expect(m.type('codeexec_runner_jobs_total')).toBe('COUNTER');
    expect(m.type(OPERATION)).toBe('HISTOGRAM');
    expect(m.type('codeexec_runner_pool_containers')).toBe('GAUGE');
    expect(m.type('process_cpu_user_seconds_total')).toBe('COUNTER');
    expect(m.value('codeexec_runner_connected')).toBe(1);
    expect(m.value('codeexec_runner_info', { name: runner.name })).toBe(1);
    expect((await fetch(metricsUrl.replace(/\/metrics$/, '/'))).status).toBe(404);
  });

  it('shows the warm pool, and the container operations that made it', async () => {
    await runner.settled();
    const m = await read();
    expect(pool(m, 'warm')).toBeGreaterThanOrEqual(1);
    expect(pool(m, 'in_use')).toBe(0);
    expect(m.value('codeexec_runner_pool_warm_target', { lang: 'python' })).toBeGreaterThanOrEqual(1);
    expect(m.value('codeexec_runner_job_slots', { state: 'free' })).toBe(2);
    // At least the warm container: created, started, and its first exec prepared.
    const ops = opCounts(m);
    expect(ops.create).toBeGreaterThanOrEqual(1);
    expect(ops.start).toBeGreaterThanOrEqual(1);
    expect(ops.exec).toBeGreaterThanOrEqual(1);
  });

  it('counts jobs as they end, and times the creations and removals they cause', async () => {
    await runner.settled();
    const before = await read();
    const ran = await Promise.all([
      post(`${url}/execute/code`, { lang: 'python', code: 'print(1)' }),
      post(`${url}/execute/code`, { lang: 'python', code: 'import sys; sys.exit(3)' }),
      post(`${url}/execute/code`, {
        lang: 'python',
        code: 'while True: pass',
        limits: { wall_time_ms: 300 },
      }),
    ]);
    expect(ran.map((r) => r.body.reason)).toEqual(['exited', 'exited', 'wall_time']);
    const jobs = (m: Exposition, reason: string) =>
      m.value('codeexec_runner_jobs_total', { lang: 'python', status: 'done', reason });
    await expect.poll(async () => jobs(await read(), 'exited') - jobs(before, 'exited')).toBe(2);
    expect(jobs(await read(), 'wall_time') - jobs(before, 'wall_time')).toBe(1);

    // Each job's container is removed, and the pool refills behind them.
    await runner.settled();
    const after = await read();
    const [was, now] = [opCounts(before), opCounts(after)];
    expect(now.create - was.create).toBeGreaterThanOrEqual(3);
    expect(now.start - was.start).toBeGreaterThanOrEqual(3);
    expect(now.exec - was.exec).toBeGreaterThanOrEqual(3);
    expect(now.remove - was.remove).toBeGreaterThanOrEqual(3);
    expect(after.value('codeexec_runner_container_operation_failures_total', { op: 'create' })).toBe(0);
    expect(pool(after, 'warm')).toBeGreaterThanOrEqual(1);
    expect(pool(after, 'in_use')).toBe(0);
    expect(pool(after, 'removing')).toBe(0);
  });

  it('shows a running job holding a container and a slot, and its cancellation', async () => {
    const before = await read();
    const cancelled = (m: Exposition) =>
      m.value('codeexec_runner_jobs_total', { lang: 'python', status: 'done', reason: 'cancelled' });
    const accepted = await post(`${url}/execute/async`, {
      lang: 'python',
      code: 'import time; time.sleep(60)',
    });
    expect(accepted.status).toBe(202);
    await expect.poll(async () => pool(await read(), 'in_use')).toBe(1);
    expect((await read()).value('codeexec_runner_job_slots', { state: 'used' })).toBe(1);
    const res = await fetch(`${url}/execute/${accepted.body.id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    await expect.poll(async () => cancelled(await read()) - cancelled(before)).toBe(1);
    await expect
      .poll(async () => (await read()).value('codeexec_runner_job_slots', { state: 'used' }))
      .toBe(0);
  });

  it('`codeexec runner --metrics-port 0` logs where it listens, and serves there', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build it with \`npx tsup\` (npm test does)`);
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(
        (entry): entry is [string, string] => !entry[0].startsWith('CODEEXEC_') && entry[1] !== undefined,
      ),
    );
    const child = spawn(process.execPath, [CLI, 'runner', '--metrics-port', '0'], {
      env: {
        ...inherited,
        CODEEXEC_GATEWAY_URL: url,
        CODEEXEC_RUNNER_TOKEN: token,
        CODEEXEC_RUNNER_NAME: uniqueName('cli-runner'),
        CODEEXEC_RUNNER_DATA_DIR: await tempDir(),
        CODEEXEC_RUNNER_LANGUAGES: 'python',
      },
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    teardown(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      await exited;
    });
    const listening = await logLine(child, 'metrics listening');
    expect(listening.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    await expect
      .poll(async () => (await scrape(String(listening.url))).value('codeexec_runner_connected'))
      .toBe(1);
    // The first signal drains: nothing is held, so it stops, removing its containers.
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect(fetch(String(listening.url))).rejects.toThrow();
  });

  it('shows the link to the gateway going away', async () => {
    await gateway.close();
    await expect.poll(async () => (await read()).value('codeexec_runner_connected')).toBe(0);
  });
});

/** The first JSON log line on the child's stdout whose message is `message`. */
function logLine(child: ChildProcessWithoutNullStreams, message: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let partial = '';
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if ((entry.msg ?? entry.message) !== message) continue;
        child.stdout.off('data', onData);
        child.off('exit', onExit);
        resolve(entry);
        return;
      }
    };
    const onExit = () => reject(new Error(`exited before "${message}"; output: ${output}`));
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.on('exit', onExit);
  });
}
