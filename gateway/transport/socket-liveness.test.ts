// Proxy-safe liveness on both transports, against real loopback sockets: the gateway pings every
// socket at the interval, even one that sends nothing; one that answers (pongs) stays open across
// intervals; one that does not answer is dropped, and the core hears of it as a close.
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { ServerTransport, SocketHandler, TransportOptions } from './transport.js';
import { UwsTransport } from './uws-transport.js';
import { WsTransport } from './ws-transport.js';

const PING_MS = 200;

let transport: ServerTransport | undefined;
const clients: WebSocket[] = [];

afterEach(async () => {
  for (const ws of clients) ws.terminate();
  clients.length = 0;
  await transport?.close();
  transport = undefined;
});

const transports: [string, new (options: TransportOptions) => ServerTransport][] = [
  ['uws', UwsTransport],
  ['ws', WsTransport],
];

/** A server with one endpoint; resolves with its URL and the codes the core saw closes with. */
async function serve(Transport: new (options: TransportOptions) => ServerTransport) {
  const closes: number[] = [];
  let closed: (code: number) => void = () => {};
  const coreClosed = new Promise<number>((resolve) => {
    closed = resolve;
  });
  const handler: SocketHandler = {
    open: () => {},
    message: (socket, text) => void socket.send(text),
    close: (_socket, code) => {
      closes.push(code);
      closed(code);
    },
  };
  transport = new Transport({
    http: async () => ({ status: 404, body: '{}' }),
    sockets: { '/ws': handler },
    maxBodyBytes: 1024,
    maxFrameBytes: 1024 * 1024,
    bodyTooLarge: () => ({ status: 413, body: '{}' }),
    pingMs: PING_MS,
  });
  const port = await transport.listen('127.0.0.1', 0);
  return { url: `ws://127.0.0.1:${port}/ws`, closes, coreClosed };
}

async function connect(url: string, autoPong: boolean): Promise<WebSocket> {
  const ws = new WebSocket(url, { autoPong });
  clients.push(ws);
  await once(ws, 'open');
  return ws;
}

/** Resolves with the times of the next `count` pings `ws` receives. */
function pings(ws: WebSocket, count: number): Promise<number[]> {
  return new Promise((resolve) => {
    const times: number[] = [];
    const onPing = () => {
      times.push(Date.now());
      if (times.length === count) {
        ws.off('ping', onPing);
        resolve(times);
      }
    };
    ws.on('ping', onPing);
  });
}

describe.each(transports)('socket liveness on the %s transport', (_name, Transport) => {
  it('pings a silent client at the interval and keeps it while it answers', async () => {
    const { url, closes } = await serve(Transport);
    const ws = await connect(url, true);
    const opened = Date.now();
    const times = await pings(ws, 4);
    // The first ping within about one interval of silence, then one per interval (bounds loose
    // enough for a loaded machine; what they rule out is uWS's own 4-second ticks).
    expect(times[0]! - opened).toBeLessThan(PING_MS * 5);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeLessThan(PING_MS * 5);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    // Still a working socket after four intervals.
    ws.send('still here');
    const [echo] = (await once(ws, 'message')) as [Buffer];
    expect(echo.toString()).toBe('still here');
    expect(closes).toEqual([]);
  });

  it('drops a client that does not answer pings, and the core sees the close', async () => {
    const { url, coreClosed } = await serve(Transport);
    const ws = await connect(url, false);
    const opened = Date.now();
    const [code] = (await once(ws, 'close')) as [number];
    // No closing handshake with a peer that does not answer: the connection is cut (1006).
    expect(code).toBe(1006);
    expect(await coreClosed).toBe(1006);
    // Two intervals (a ping, then a sweep that found no answer), with slack for a loaded machine.
    expect(Date.now() - opened).toBeLessThan(PING_MS * 10);
  });

  it('counts frames as answers: a client that sends but never pongs stays', async () => {
    const { url, closes } = await serve(Transport);
    const ws = await connect(url, false);
    let sent = 0;
    // A frame each half interval: proof enough that the peer is there.
    const timer = setInterval(() => {
      ws.send(`frame ${sent++}`);
    }, PING_MS / 2);
    try {
      await pings(ws, 4);
      expect(ws.readyState).toBe(WebSocket.OPEN);
      expect(closes).toEqual([]);
    } finally {
      clearInterval(timer);
    }
  });
});
