// End to end: a job's end POSTed to its callback_url, through a real gateway and runner, with a
// loopback target that fails the first attempt.
import { createHmac } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../gateway/gateway.js';
import { CallbackSink, post, startGateway, startRunner } from './helpers.js';

let gateway: Gateway;
let url: string;

beforeAll(async () => {
  const gw = await startGateway({ callbacks: { firstDelayMs: 50, maxDelayMs: 200, secret: 'hook-secret' } });
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
