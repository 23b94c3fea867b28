// Streamed responses (HttpStream) on both transports, over real loopback sockets and fetch: the
// head, then each event as it is written (in order, from wherever); a client that leaves fires
// onClose; close() ends open bodies; write() says false past the high-water mark. (That a silent
// stream outlives the transports' timers is test/http-stream-silence.test.ts: it takes 12 s.)
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { STREAM_HIGH_WATER_BYTES } from './http-stream.js';
import { Body, fillPastHighWater, KINDS, onceClosed, serve } from './http-stream-fixture.js';
import type { HttpStream, SocketHandler } from './transport.js';

describe.each(KINDS)('%s transport: streamed responses', (kind) => {
  it('sends the head, then each event as it is written, then the end', async ({ onTestFinished }) => {
    const { url, transport, streamed } = await serve(kind, onTestFinished);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    expect(response.headers.get('content-length')).toBeNull();
    expect(response.headers.get('transfer-encoding')).toBe('chunked');

    const { out } = await streamed;
    let closeCalls = 0;
    out.onClose(() => closeCalls++);
    const body = new Body(response);
    await body.until(': open\n\n');
    // Each event is written only once the client has read the one before.
    for (const n of [1, 2, 3]) {
      expect(out.write(`data: ${n}\n\n`)).toBe(true);
      await body.until(`data: ${n}\n\n`);
    }
    out.end();
    out.end();
    expect(await body.end()).toBe('');
    expect(out.closed).toBe(true);
    expect(out.write('data: late\n\n')).toBe(false);
    // Only once the server is closed are all of its connections' events surely in.
    await transport.close();
    expect(closeCalls).toBe(0);
  });

  it('fires onClose when the client goes away; writes are then no-ops', async ({ onTestFinished }) => {
    const { url, streamed } = await serve(kind, onTestFinished);
    const client = new AbortController();
    const response = await fetch(url, { signal: client.signal });
    const { out, signal } = await streamed;
    const closed = onceClosed(out);
    await new Body(response).until(': open\n\n');

    client.abort();
    await closed;
    expect(out.closed).toBe(true);
    expect(signal.aborted).toBe(true);
    // On uWS, touching the aborted response would crash the process: these must not reach it.
    expect(out.write('data: 1\n\n')).toBe(false);
    expect(out.bufferedAmount).toBe(0);
    out.end();
    // A listener added afterwards still hears of it.
    await onceClosed(out);
  });

  it('ends open streams on close(): listeners run, the client reads the end', async ({ onTestFinished }) => {
    const { url, transport, streamed } = await serve(kind, onTestFinished);
    const response = await fetch(url);
    const { out } = await streamed;
    let closeCalls = 0;
    out.onClose(() => closeCalls++);
    const body = new Body(response);
    await body.until(': open\n\n');
    out.write('data: 1\n\n');

    const started = performance.now();
    await transport.close();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(closeCalls).toBe(1);
    expect(out.closed).toBe(true);
    expect(out.write('data: 2\n\n')).toBe(false);
    // What was written before the close arrives, then the body ends (not cut).
    await body.until('data: 1\n\n');
    expect(await body.end()).toBe('');
  });

  it("keeps the order of writes made in another socket's callback, small and large", async ({
    onTestFinished,
  }) => {
    // As the SSE endpoint will write: relaying a runner socket's frames. On uWS that socket is
    // corked during its callback, so the stream cannot cork there: writes wait for the turn's end
    // unless they reach 64 KiB, and then go at once, uncorked.
    let out: HttpStream | undefined;
    const expected: string[] = [': open\n\n'];
    const relay: SocketHandler = {
      open: () => {},
      close: () => {},
      message: (socket, text) => {
        for (let i = 0; i < 50; i++) out!.write(`data: ${text} ${i}\n\n`);
        out!.write(`data: ${text.repeat(100_000)}\n\n`);
        expected.push(
          ...Array.from({ length: 50 }, (_, i) => `data: ${text} ${i}\n\n`),
          `data: ${text.repeat(100_000)}\n\n`,
        );
        socket.send('written');
      },
    };
    const { url, port, streamed } = await serve(kind, onTestFinished, { '/relay': relay });
    const response = await fetch(url);
    out = (await streamed).out;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/relay`);
    onTestFinished(() => ws.terminate());
    await new Promise((resolve) => ws.once('open', resolve));
    for (const text of ['a', 'b']) {
      const written = new Promise((resolve) => ws.once('message', resolve));
      ws.send(text);
      await written;
    }
    out.end();
    expect((await response.text()) === expected.join('')).toBe(true);
  });

  it('says false past the high-water mark, loses nothing, and true once the peer caught up', async ({
    onTestFinished,
  }) => {
    const { url, streamed } = await serve(kind, onTestFinished);
    const response = await fetch(url);
    const { out } = await streamed;
    const body = new Body(response);
    await body.until(': open\n\n');

    // The client reads nothing meanwhile: the loop holds the event loop.
    const written = fillPastHighWater(out);
    expect(out.bufferedAmount).toBeGreaterThan(STREAM_HIGH_WATER_BYTES);
    await body.readPast(written);
    // The first write after the burst may still count it (node counts a write done one loop turn
    // after the peer could read it); by the time the client read that write, nothing is left.
    out.write('data: 1\n\n');
    await body.until('data: 1\n\n');
    expect(out.write('data: 2\n\n')).toBe(true);
    await body.until('data: 2\n\n');
    expect(out.bufferedAmount).toBeLessThan(STREAM_HIGH_WATER_BYTES);
  });
});
