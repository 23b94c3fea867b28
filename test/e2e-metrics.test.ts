// End to end: GET /metrics on a real gateway with a real runner, read with a Prometheus text-format
// parser (not by regex): the families exist with their types, counters and histograms move as jobs
// run, the gauges describe runners, slots, the queue and client sockets, and admin keys guard it.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { post, startGateway, startRunner } from './helpers.js';

let url: string;

beforeAll(async () => {
  const gw = await startGateway();
  url = gw.url;
  const runner = await startRunner({ gatewayUrl: url, token: gw.token, languages: ['python'], slots: 2 });
  await runner.connected();
});

async function scrape(base = url, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/metrics`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const families = parsePrometheusTextFormat(text);
  return {
    /**
     * A histogram's observation count for these labels, from its `_count` line: the parser folds
     * the buckets of labelled histograms together and drops their `_count` and `_sum`.
     */
    count(name: string, labels: Record<string, string>): number {
      const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
      const line = text
        .split('\n')
        .find((l) => l.startsWith(`${name}_count{`) && want.every((pair) => l.includes(pair)));
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    },
    type: (name: string) => families.find((f) => f.name === name)?.type,
    /** The sample of `name` whose labels include `labels` (0 when absent). */
    value(name: string, labels: Record<string, string> = {}): number {
      const sample = families
        .find((f) => f.name === name)
        ?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
      return Number(sample?.value ?? 0);
    },
  };
}

describe('GET /metrics', () => {
  it('has every family, with its type, and the process metrics', async () => {
    const m = await scrape();
    expect(m.type('codeexec_jobs_total')).toBe('COUNTER');
    expect(m.type('codeexec_job_duration_seconds')).toBe('HISTOGRAM');
    expect(m.type('codeexec_queue_wait_seconds')).toBe('HISTOGRAM');
    expect(m.type('codeexec_queue_depth')).toBe('GAUGE');
    expect(m.type('codeexec_runners')).toBe('GAUGE');
    expect(m.type('codeexec_runner_slots')).toBe('GAUGE');
    expect(m.type('codeexec_client_sockets')).toBe('GAUGE');
    expect(m.type('codeexec_callbacks_total')).toBe('COUNTER');
    expect(m.type('process_cpu_user_seconds_total')).toBe('COUNTER');
    expect(m.value('codeexec_runners', { tier: 'trusted', state: 'ready' })).toBe(1);
    expect(m.value('codeexec_runners', { tier: 'donor', state: 'ready' })).toBe(0);
    expect(
      m.value('codeexec_runner_slots', { state: 'used' }) +
        m.value('codeexec_runner_slots', { state: 'free' }),
    ).toBe(2);
  });

  it('counts jobs by language, status and reason, and times them', async () => {
    const before = await scrape();
    const labels = { lang: 'python', status: 'done', reason: 'exited' };
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
    const after = await scrape();
    expect(after.value('codeexec_jobs_total', labels) - before.value('codeexec_jobs_total', labels)).toBe(2);
    const timedOut = { lang: 'python', status: 'done', reason: 'wall_time' };
    expect(after.value('codeexec_jobs_total', timedOut) - before.value('codeexec_jobs_total', timedOut)).toBe(
      1,
    );
    const run = { lang: 'python', stage: 'run' };
    expect(
      after.count('codeexec_job_duration_seconds', run) - before.count('codeexec_job_duration_seconds', run),
    ).toBe(3);
    expect(after.count('codeexec_queue_wait_seconds', { lang: 'python' })).toBeGreaterThanOrEqual(3);
  });

  it('shows open client sockets and the queue depth by language', async () => {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/execute/ws`);
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    try {
      expect((await scrape()).value('codeexec_client_sockets')).toBe(1);
      // Three sleepers on two slots: one waits in the queue.
      const sleepers = [1, 2, 3].map(() =>
        post(`${url}/execute/async`, { lang: 'python', code: 'import time; time.sleep(2)' }),
      );
      await Promise.all(sleepers);
      let depth = 0;
      for (let i = 0; i < 50 && depth === 0; i++)
        depth = (await scrape()).value('codeexec_queue_depth', { lang: 'python' });
      expect(depth).toBe(1);
    } finally {
      socket.close();
    }
  });

  it('with admin keys, needs one', async () => {
    const { url: keyed } = await startGateway({ adminKeys: ['metrics-key'] });
    expect((await fetch(`${keyed}/metrics`)).status).toBe(401);
    const m = await scrape(keyed, { authorization: 'Bearer metrics-key' });
    expect(m.type('codeexec_jobs_total')).toBe('COUNTER');
  });
});
