// End to end: a gateway going away tells its runners `goaway` before it closes (1001). A runner with
// two gateways moves to the other at once and runs jobs there; a runner with one waits the
// reconnect_after_ms it was given before it dials that gateway again. Real gateways in process,
// a real runner and the real Docker engine, on OS-chosen loopback ports.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Gateway } from '../gateway/gateway.js';
import type { ConnectionEvent, Runner } from '../runner/create-runner.js';
import { containersOf, post, startGateway, startRunner, uniqueName } from './helpers.js';

/** The single-gateway test's goaway wait: short, yet far above the tests' 20 ms reconnect backoff. */
const RECONNECT_AFTER_MS = 300;

/** Resolves with the time the runner named `name` joins `gateway`, on the gateway's own event. */
function joined(gateway: Gateway, name: string): Promise<number> {
  return new Promise((resolve) => {
    const stop = gateway.events.on('runner.joined', ({ runner }) => {
      if (runner.name !== name) return;
      stop();
      resolve(Date.now());
    });
  });
}

/** The runner's connection events from now on, and the time each came. */
function connectionLog(runner: Runner): { events: ConnectionEvent[]; times: number[] } {
  const log = { events: [] as ConnectionEvent[], times: [] as number[] };
  runner.on('connection', (event) => {
    log.events.push(event);
    log.times.push(Date.now());
  });
  return log;
}

/** A small python runner named `name` dialling `gatewayUrl` (one URL or several, comma-separated). */
function pythonRunner(name: string, gatewayUrl: string, token: string): Promise<Runner> {
  return startRunner({ gatewayUrl, token, name, languages: ['python'], slots: 1, minWarm: 1, maxWarm: 1 });
}

/** Stops the runner and checks it left no container behind (also on a failed check before it). */
async function closeRunner(runner: Runner): Promise<void> {
  await runner.close();
  expect(containersOf(runner.name)).toEqual([]);
}

describe('a gateway going away', () => {
  it('moves a runner with two gateways to the other at once, where it runs the next job', async () => {
    const token = randomBytes(12).toString('hex');
    const a = await startGateway({ runnerTokens: [token] });
    const b = await startGateway({ runnerTokens: [token] });
    const name = uniqueName('goaway');
    // It dials the first of its list.
    const onA = joined(a.gateway, name);
    const runner = await pythonRunner(name, `${a.url},${b.url}`, token);
    try {
      await onA;
      await runner.connected();
      const log = connectionLog(runner);
      const onB = joined(b.gateway, name);

      const closing = Date.now();
      await a.gateway.close();
      const at = await onB;
      await runner.connected();
      // A hop (under 250 ms of jitter), not a backoff nor reconnect_after_ms.
      expect(at - closing).toBeLessThan(2_000);
      expect(log.events).toEqual([
        { state: 'disconnected', gateway: a.url, code: 1001, reason: 'gateway going away' },
        { state: 'retrying', gateway: b.url, in_ms: expect.any(Number) },
        { state: 'connected', gateway: b.url, runner_id: name },
      ]);
      expect((log.events[1] as { in_ms: number }).in_ms).toBeLessThan(250);

      const res = await post(`${b.url}/execute/code`, { lang: 'python', code: 'print(6*7)' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'done', output: '42\n', exit_code: 0 });
      const status = await fetch(`${b.url}/execute/${res.body.id}/status`).then((r) => r.json());
      expect(status).toMatchObject({ status: 'done', runner_id: name });
    } finally {
      await closeRunner(runner);
    }
  });

  it('makes a runner with one gateway wait reconnect_after_ms before it dials it again', async () => {
    const token = randomBytes(12).toString('hex');
    // Both on the ws transport (the first test's gateways are on uWS, the default): the closed
    // gateway's connections sit in TIME_WAIT, and a port whose TIME_WAIT sockets came from uWS
    // (no SO_REUSEADDR) cannot be bound again for a minute.
    const a = await startGateway({
      runnerTokens: [token],
      transport: 'ws',
      goawayReconnectMs: RECONNECT_AFTER_MS,
    });
    const name = uniqueName('goaway');
    const runner = await pythonRunner(name, a.url, token);
    try {
      await runner.connected();
      const log = connectionLog(runner);
      await a.gateway.close();
      // The same address again, as a restarted gateway would be: up well within the wait.
      const again = await startGateway({ runnerTokens: [token], port: a.gateway.port, transport: 'ws' });
      const at = await joined(again.gateway, name);

      const [disconnected, retrying] = log.events;
      expect(disconnected).toMatchObject({ state: 'disconnected', gateway: a.url, code: 1001 });
      // What the gateway asked, jittered per runner into [n, 2n): the runner waits just that.
      expect(retrying).toMatchObject({ state: 'retrying', gateway: a.url });
      const wait = (retrying as { in_ms: number }).in_ms;
      expect(wait).toBeGreaterThanOrEqual(RECONNECT_AFTER_MS);
      expect(wait).toBeLessThan(2 * RECONNECT_AFTER_MS);
      // Not back before the wait it was given (a few ms of timer slack), and not long after it.
      const away = at - (log.times[0] as number);
      expect(away).toBeGreaterThanOrEqual(wait - 5);
      expect(away).toBeLessThan(wait + 10_000);
    } finally {
      await closeRunner(runner);
    }
  });
});
