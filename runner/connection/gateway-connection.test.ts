// The runner's link keeps itself alive: it pings the gateway at the interval the welcome names,
// and a gateway that stops answering is a lost link (dropped, then redialled with backoff).
// Against a real `ws` server on loopback that plays the gateway's handshake.
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

function connection(gatewayUrl: string): GatewayConnection {
  const conn = new GatewayConnection({
    gatewayUrl,
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
