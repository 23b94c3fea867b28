// The client side's keepalive (runner, `codeexec run`) against a real `ws` server on loopback:
// a server that answers pings keeps the link, one that does not is reported dead.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { keepAlive } from './keepalive.js';

const PING_MS = 200;
const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function link(autoPong: boolean): Promise<{ client: WebSocket; pingsSeen: () => number }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong });
  await once(server, 'listening');
  let pings = 0;
  server.on('connection', (ws) => ws.on('ping', () => pings++));
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  cleanups.push(() => {
    client.terminate();
    for (const ws of server.clients) ws.terminate();
    server.close();
  });
  await once(client, 'open');
  return { client, pingsSeen: () => pings };
}

describe('keepAlive', () => {
  it('pings at the interval and keeps a link whose peer answers', async () => {
    const { client, pingsSeen } = await link(true);
    let dead = false;
    const stop = keepAlive(client, PING_MS, () => {
      dead = true;
    });
    cleanups.push(stop);
    for (let i = 0; i < 4; i++) await once(client, 'pong');
    expect(pingsSeen()).toBeGreaterThanOrEqual(4);
    expect(dead).toBe(false);
  });

  it('reports a peer that does not answer as dead, once, and stops pinging', async () => {
    const { client, pingsSeen } = await link(false);
    let deaths = 0;
    const dead = new Promise<void>((resolve) => {
      keepAlive(client, PING_MS, () => {
        deaths++;
        resolve();
      });
    });
    const started = Date.now();
    await dead;
    expect(Date.now() - started).toBeLessThan(PING_MS * 10);
    const seen = pingsSeen();
    expect(seen).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, PING_MS * 2)); // no more ticks come
    expect(deaths).toBe(1);
    expect(pingsSeen()).toBe(seen);
  });
});
