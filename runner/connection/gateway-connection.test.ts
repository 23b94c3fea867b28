// The runner's link keeps itself alive: it pings the gateway at the interval the welcome names,
// and a gateway that stops answering is a lost link (dropped, then redialled with backoff). With
// several gateways it moves on to the next when one fails or says goaway. Against real `ws`
// servers on loopback that play the gateway's handshake.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { silentLogger } from '../../shared/index.js';
import { GatewayConnection } from './gateway-connection.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A gateway that welcomes every hello with `ping_ms`; `autoPong: false` plays a dead one. */
async function fakeGateway(autoPong: boolean, pingMs: number) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong });
  await once(server, 'listening');
  let connections = 0;
  let pings = 0;
  const pinged = new EventTarget();
  server.on('connection', (ws) => {
    connections++;
    ws.on('ping', () => {
      pings++;
      pinged.dispatchEvent(new Event('ping'));
    });
    ws.on('message', () => {
      ws.send(
        JSON.stringify({
          type: 'welcome',
          runner_id: 'r',
          heartbeat_ms: 60_000,
          lease_ms: 60_000,
          ping_ms: pingMs,
        }),
      );
    });
  });
  cleanups.push(() => {
    for (const ws of server.clients) ws.terminate();
    server.close();
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    /** What a draining gateway does: goaway to every runner, then close with 1001. */
    goAway: (reconnectAfterMs: number) => {
      for (const ws of server.clients) {
        ws.send(JSON.stringify({ type: 'goaway', reconnect_after_ms: reconnectAfterMs }));
        ws.close(1001, 'gateway going away');
      }
    },
    /** Resolves once the gateway has been pinged `count` times in all. */
    untilPings: (count: number) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (pings < count) return;
          pinged.removeEventListener('ping', check);
          resolve();
        };
        pinged.addEventListener('ping', check);
        check();
      }),
  };
}

function connection(...gatewayUrls: string[]): GatewayConnection {
  const conn = new GatewayConnection({
    gatewayUrls,
    log: silentLogger,
    minBackoffMs: 20,
    maxBackoffMs: 50,
    hello: () => ({
      type: 'hello',
      protocol: 1,
      token: 't',
      name: 'r',
      version: '0',
      languages: [],
      slots: 1,
      labels: [],
      held: [],
      draining: false,
      paused: false,
      building: [],
    }),
  });
  cleanups.push(() => conn.close());
  return conn;
}

describe('GatewayConnection pings', () => {
  it("pings at the welcome's ping_ms and stays connected while the gateway answers", async () => {
    const gateway = await fakeGateway(true, 100);
    const conn = connection(gateway.url);
    let disconnects = 0;
    conn.on('disconnected', () => disconnects++);
    conn.start();
    await conn.next('welcome');
    // Four pings at 100 ms, answered: the link stays the same one.
    await gateway.untilPings(4);
    expect(conn.state).toBe('ready');
    expect(disconnects).toBe(0);
    expect(gateway.connections()).toBe(1);
  });

  it('drops a link whose gateway stopped answering, and dials again with backoff', async () => {
    const gateway = await fakeGateway(false, 100);
    const conn = connection(gateway.url);
    conn.start();
    await conn.next('welcome');
    const lost = conn.next('disconnected');
    const retrying = conn.next('retrying');
    expect((await lost).code).toBe(1006);
    await retrying;
    await conn.next('welcome');
    expect(gateway.connections()).toBe(2);
  });
});

/** A loopback address nothing listens on (a port the OS gave, then freed). */
async function deadUrl(): Promise<string> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return `http://127.0.0.1:${port}`;
}

describe('GatewayConnection with several gateways', () => {
  it('on goaway moves to the next gateway at once, not counting it a failure', async () => {
    const a = await fakeGateway(true, 60_000);
    const b = await fakeGateway(true, 60_000);
    const conn = connection(a.url, b.url);
    conn.start();
    await conn.next('welcome');
    expect(conn.gatewayUrl).toBe(a.url);
    const goaway = conn.next('goaway');
    const retrying = conn.next('retrying');
    a.goAway(60_000);
    expect(await goaway).toEqual({ reconnect_after_ms: 60_000 });
    const next = await retrying;
    expect(next.gateway).toBe(b.url);
    expect(next.in_ms).toBeLessThan(250);
    await conn.next('welcome');
    expect(conn.gatewayUrl).toBe(b.url);
    expect([a.connections(), b.connections()]).toEqual([1, 1]);
  });

  it('with one gateway, after goaway waits reconnect_after_ms before dialling it again', async () => {
    const a = await fakeGateway(true, 60_000);
    const conn = connection(a.url);
    conn.start();
    await conn.next('welcome');
    const disconnected = conn.next('disconnected');
    const retrying = conn.next('retrying');
    a.goAway(300);
    await disconnected;
    const closedAt = Date.now();
    expect(await retrying).toEqual({ in_ms: 300, gateway: a.url });
    await conn.next('welcome');
    // Not before the wait (a little slack for timer granularity), and not much after.
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(290);
    expect(Date.now() - closedAt).toBeLessThan(3_000);
    expect(a.connections()).toBe(2);
  });

  it('dials the next gateway when the first cannot be reached', async () => {
    const dead = await deadUrl();
    const b = await fakeGateway(true, 60_000);
    const conn = connection(dead, b.url);
    const retrying = conn.next('retrying');
    conn.start();
    expect(await retrying).toMatchObject({ gateway: b.url });
    await conn.next('welcome');
    expect(conn.gatewayUrl).toBe(b.url);
  });
});
