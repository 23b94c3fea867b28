// End to end: a job's end POSTed to its callback_url, through a real gateway and runner, with a
// loopback target that fails the first attempt; and callbacks to internal addresses refused.
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Resolver, systemResolver } from '../gateway/callbacks/callback-guard.js';
import type { Gateway } from '../gateway/gateway.js';
import { CallbackSink, post, startGateway, startRunner } from './helpers.js';

let gateway: Gateway;
let url: string;

beforeAll(async () => {
  const gw = await startGateway({
    // The sinks listen on loopback, which callbacks may reach only when the operator allows it.
    callbacks: { firstDelayMs: 50, maxDelayMs: 200, secret: 'hook-secret', allow: ['127.0.0.1/32'] },
  });
  gateway = gw.gateway;
  url = gw.url;
  const runner = await startRunner({ gatewayUrl: url, token: gw.token, languages: ['python'] });
  await runner.connected();
});

describe('callbacks', () => {
  it('POSTs the finished job to callback_url, retrying after a failed attempt', async () => {
    const sink = await CallbackSink.start([503]);
    const accepted = await post(`${url}/execute/async`, {
      lang: 'python',
      code: 'print("called back")',
      callback_url: sink.url,
    });
    expect(accepted.status).toBe(202);
    const [first, second] = await sink.until((received) => received.length === 2);
    expect([first!.status, second!.status]).toEqual([503, 200]);
    expect(second!.headers['x-codeexec-attempt']).toBe('2');
    expect(second!.body).toMatchObject({ id: accepted.body.id, status: 'done', stdout: 'called back\n' });
    const signature = createHmac('sha256', 'hook-secret').update(second!.raw).digest('hex');
    expect(second!.headers['x-codeexec-signature']).toBe(`sha256=${signature}`);

    await gateway.callbacks.idle();
    const result = await fetch(`${url}/execute/${accepted.body.id}/result`);
    expect(await result.json()).toMatchObject({
      callback_url: sink.url,
      callback: { state: 'delivered', attempts: 2, last_error: null, delivered_at: expect.any(String) },
    });
  });

  it('a failed job is called back too', async () => {
    const sink = await CallbackSink.start();
    const accepted = await post(`${url}/execute/async`, {
      lang: 'python',
      code: 'print(1)',
      labels: ['no-runner-has-this'],
      queue_timeout_ms: 60_000,
      callback_url: sink.url,
    });
    await fetch(`${url}/execute/${accepted.body.id}`, { method: 'DELETE' });
    const [delivery] = await sink.until((received) => received.length === 1);
    expect(delivery!.body).toMatchObject({ id: accepted.body.id, status: 'cancelled' });
  });

  it.each([
    ['not a URL', 'nope'],
    ['not http(s)', 'file:///etc/passwd'],
    ['data:', 'data:text/plain,hi'],
  ])('refuses a callback_url that is %s', async (_name, callback_url) => {
    const res = await post(`${url}/execute/async`, { lang: 'python', code: 'print(1)', callback_url });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.message).toMatch(/callback_url/);
  });
});

/** Submits a job no runner will take, and cancels it: its end is called back without a runner. */
async function cancelledJob(base: string, callback_url: string): Promise<{ status: number; id?: string }> {
  const accepted = await post(`${base}/execute/async`, {
    lang: 'python',
    code: 'print(1)',
    labels: ['no-runner-has-this'],
    queue_timeout_ms: 60_000,
    callback_url,
  });
  if (accepted.status !== 202) return { status: accepted.status };
  await fetch(`${base}/execute/${accepted.body.id}`, { method: 'DELETE' });
  return { status: 202, id: accepted.body.id };
}

describe('callbacks to internal addresses', () => {
  it.each([
    [
      '127.0.0.1',
      (port: string) => `http://127.0.0.1:${port}/hook`,
      /host 127\.0\.0\.1 is a loopback address/,
    ],
    [
      'localhost',
      (port: string) => `http://localhost:${port}/hook`,
      /host localhost resolves to .*, a loopback address/,
    ],
    ['[::ffff:127.0.0.1]', (port: string) => `http://[::ffff:127.0.0.1]:${port}/hook`, /a loopback address/],
    ['0x7f.1', (port: string) => `http://0x7f.1:${port}/hook`, /host 127\.0\.0\.1 is a loopback address/],
  ])('are refused at submission without an allowlist: %s', async (_name, target, message) => {
    const { url: base } = await startGateway();
    const sink = await CallbackSink.start();
    const port = new URL(sink.url).port;
    for (const path of ['/execute/async', '/execute/sync']) {
      const res = await post(`${base}${path}`, {
        lang: 'python',
        code: 'print(1)',
        callback_url: target(port),
      });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('callback_forbidden');
      expect(res.body.error.message).toMatch(message);
      expect(res.body.error.message).toMatch(/CODEEXEC_CALLBACK_ALLOW/);
      expect(res.body.error.details).toMatchObject({ class: 'loopback' });
    }
    const jobs = await (await fetch(`${base}/execute`)).json();
    expect(jobs.jobs).toEqual([]); // nothing was queued, so nothing will be called back
    expect(sink.received).toEqual([]);
  });

  it('a host the allowlist names is called back, though it resolves to loopback', async () => {
    const { url: base, gateway: named } = await startGateway({
      callbacks: { allow: ['localhost'] },
    });
    const sink = await CallbackSink.start();
    const hook = `http://localhost:${new URL(sink.url).port}/hook`;
    const job = await cancelledJob(base, hook);
    expect(job.status).toBe(202);
    const [delivery] = await sink.until((received) => received.length === 1);
    expect(delivery!.body).toMatchObject({ id: job.id, status: 'cancelled', callback_url: hook });
    await named.callbacks.idle();
    // …and only that host: its address, written as such, is still refused.
    const literal = await post(`${base}/execute/async`, {
      lang: 'python',
      code: 'print(1)',
      callback_url: sink.url, // http://127.0.0.1:<port>/hook
    });
    expect(literal.body.error?.code).toBe('callback_forbidden');
  });

  it('a name that resolves elsewhere at delivery (DNS rebinding) is refused there, before connecting', async () => {
    const sink = await CallbackSink.start();
    // Public when the job is submitted, loopback when its end is delivered. 93.184.216.34 is
    // only ever an answer of this resolver: nothing dials it.
    const answers = [['93.184.216.34'], ['127.0.0.1']];
    const resolve: Resolver = async (host) =>
      host === 'rebind.test'
        ? (answers.shift() ?? ['127.0.0.1']).map((address) => ({ address, family: 4 }))
        : systemResolver(host);
    const { url: base, gateway: rebinding } = await startGateway({ callbacks: { resolve } });
    const attempt = once(rebinding.callbacks, 'attempt');
    const job = await cancelledJob(base, `http://rebind.test:${new URL(sink.url).port}/hook`);
    expect(job.status).toBe(202);
    const [id, delivery] = await attempt;
    expect(id).toBe(job.id);
    expect(delivery).toMatchObject({
      state: 'failed',
      attempts: 1,
      last_error: expect.stringMatching(
        /^refused before connecting: callback_url's host rebind\.test resolves to 127\.0\.0\.1, a loopback address/,
      ),
    });
    const result = await (await fetch(`${base}/execute/${job.id}/result`)).json();
    expect(result.callback).toMatchObject({ state: 'failed', attempts: 1 });
    expect(sink.received).toEqual([]);
  });
});
