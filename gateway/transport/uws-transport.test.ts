// The uWebSockets.js transport queues each socket's frames and writes them once per event-loop
// turn, corked: frames sent from another socket's callback (a relayed chunk) must still arrive
// all, in order, before a close, and count in bufferedAmount while they wait.
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { SocketHandler, SocketLike } from './transport.js';
import { UwsTransport } from './uws-transport.js';

let transport: UwsTransport | undefined;
const clients: WebSocket[] = [];

afterEach(async () => {
  for (const ws of clients) ws.terminate();
  clients.length = 0;
  await transport?.close();
  transport = undefined;
});

/** A server whose one endpoint runs `onMessage` for each text frame; resolves with its URL. */
async function serve(
  onMessage: (socket: SocketLike, text: string, sockets: SocketLike[]) => void,
  onClose: (socket: SocketLike) => void = () => {},
): Promise<string> {
  const sockets: SocketLike[] = [];
  const handler: SocketHandler = {
    open: (socket) => void sockets.push(socket),
    message: (socket, text) => onMessage(socket, text, sockets),
    close: (socket) => {
      sockets.splice(sockets.indexOf(socket), 1);
      onClose(socket);
    },
  };
  transport = new UwsTransport({
    http: async () => ({ status: 404, body: '{}' }),
    sockets: { '/ws': handler },
    maxBodyBytes: 1024,
    maxFrameBytes: 1024 * 1024,
    bodyTooLarge: () => ({ status: 413, body: '{}' }),
  });
  const port = await transport.listen('127.0.0.1', 0);
  return `ws://127.0.0.1:${port}/ws`;
}

function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    clients.push(ws);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** The next `count` text frames on `ws`. */
function frames(ws: WebSocket, count: number): Promise<string[]> {
  return new Promise((resolve) => {
    const got: string[] = [];
    const onMessage = (data: Buffer) => {
      got.push(data.toString());
      if (got.length === count) {
        ws.off('message', onMessage);
        resolve(got);
      }
    };
    ws.on('message', onMessage);
  });
}

describe('UwsTransport sends', () => {
  it("delivers every frame sent from another socket's callback, in order", async () => {
    const url = await serve((socket, text, sockets) => {
      // The first socket says "go": 5,000 frames for the second, from the first one's callback.
      const other = sockets.find((s) => s !== socket)!;
      for (let i = 0; i < 5_000; i++) other.send(`${text} ${i}`);
    });
    const sender = await connect(url);
    const receiver = await connect(url);
    const received = frames(receiver, 10_000);
    sender.send('a');
    sender.send('b');
    const expected = [...['a', 'b'].flatMap((p) => Array.from({ length: 5_000 }, (_, i) => `${p} ${i}`))];
    expect(await received).toEqual(expected);
  });

  it('writes what was sent before a close first, then closes with the code', async () => {
    const url = await serve((socket, text) => {
      socket.send(`error: ${text}`);
      socket.close(4400, 'bad frame');
      expect(socket.send('after the close')).toBe(false);
    });
    const ws = await connect(url);
    const got: string[] = [];
    ws.on('message', (data: Buffer) => got.push(data.toString()));
    const closed = new Promise<[number, string]>((resolve) =>
      ws.once('close', (code, reason) => resolve([code, reason.toString()])),
    );
    ws.send('x');
    expect(await closed).toEqual([4400, 'bad frame']);
    expect(got).toEqual(['error: x']);
  });

  it('counts queued frames in bufferedAmount (UTF-8 bytes) until they are written', async () => {
    let readings: number[] = [];
    let read: () => void = () => {};
    const allRead = new Promise<void>((resolve) => {
      read = resolve;
    });
    const url = await serve((socket) => {
      const before = socket.bufferedAmount;
      socket.send('é'.repeat(10)); // 20 bytes
      socket.send('abc');
      readings = [before, socket.bufferedAmount];
      setImmediate(() =>
        setImmediate(() => {
          readings.push(socket.bufferedAmount);
          read();
        }),
      );
    });
    const ws = await connect(url);
    const got = frames(ws, 2);
    ws.send('x');
    expect(await got).toEqual(['é'.repeat(10), 'abc']);
    await allRead;
    expect(readings).toEqual([0, 23, 0]);
  });

  it('writes a burst past 64 KiB at once, so the queue stays small', async () => {
    let reading = -1;
    const url = await serve((socket) => {
      for (let i = 0; i < 100; i++) socket.send('x'.repeat(1024));
      reading = socket.bufferedAmount;
    });
    const ws = await connect(url);
    const got = frames(ws, 100);
    ws.send('go');
    expect(await got).toHaveLength(100);
    // 64 frames were written when the queue reached 64 KiB; 36 KiB waited for the turn's end
    // (plus whatever the kernel did not take at once, nothing on loopback).
    expect(reading).toBeGreaterThanOrEqual(36 * 1024);
    expect(reading).toBeLessThan(64 * 1024);
  });

  it('drops what a socket that closed meanwhile had queued, without throwing', async () => {
    let sentAfterClose: (sent: boolean) => void = () => {};
    const serverClosed = new Promise<boolean>((resolve) => {
      sentAfterClose = resolve;
    });
    const url = await serve(
      () => {},
      (socket) => sentAfterClose(socket.send('too late')),
    );
    const ws = await connect(url);
    ws.close(1000);
    expect(await serverClosed).toBe(false);
  });
});
