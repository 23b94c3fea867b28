// Streamed responses (HttpStream) on both transports, over real loopback sockets and fetch: the
// head, then each event as it is written (in order, from wherever); a client that leaves fires
// onClose; close() ends open bodies; write() says false past the high-water mark; a silent
// stream outlives the transports' timeouts.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, type OnTestFinishedHandler } from 'vitest';
import { WebSocket } from 'ws';
import { STREAM_HIGH_WATER_BYTES } from './http-stream.js';
import type {
  HttpHandler,
  HttpStream,
  ServerTransport,
  SocketHandler,
  TransportOptions,
} from './transport.js';
import { UwsTransport } from './uws-transport.js';
import { WsTransport } from './ws-transport.js';

type Kind = 'uws' | 'ws';
const KINDS: Kind[] = ['uws', 'ws'];
const TRANSPORTS: Record<Kind, (options: TransportOptions) => ServerTransport> = {
  uws: (options) => new UwsTransport(options),
  ws: (options) => new WsTransport(options),
};

/** What the handler got: the body to write, and the request's abort signal. */
interface Streamed {
  out: HttpStream;
  signal: AbortSignal;
}

interface Served {
  url: string;
  port: number;
  transport: ServerTransport;
  /** The stream of the (one) request the test makes, once the transport handed it over. */
  streamed: Promise<Streamed>;
}

/** A server that answers every request with an SSE stream opened by a comment (`: open`). */
async function serve(
  kind: Kind,
  onTestFinished: (fn: OnTestFinishedHandler) => void,
  sockets: Record<string, SocketHandler> = {},
): Promise<Served> {
  let hand: (streamed: Streamed) => void = () => {};
  const streamed = new Promise<Streamed>((resolve) => {
    hand = resolve;
  });
  const http: HttpHandler = async (_req, signal) => ({
    status: 200,
    headers: {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      // Dropped by the transport: a streamed body is chunked.
      'content-length': '7',
    },
    body: 'ignored',
    stream: (out) => {
      // The head goes out with the first write: this one lets the client see it at once.
      out.write(': open\n\n');
      hand({ out, signal });
    },
  });
  const transport = TRANSPORTS[kind]({
    http,
    sockets,
    maxBodyBytes: 1024,
    maxFrameBytes: 1024,
    bodyTooLarge: () => ({ status: 413, body: '{}' }),
  });
  onTestFinished(() => transport.close());
  const port = await transport.listen('127.0.0.1', 0);
  return { url: `http://127.0.0.1:${port}/execute/job-1/output`, port, transport, streamed };
}

/** A response body read on demand, as a client of the SSE endpoint reads it. */
class Body {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  /** Text read and not yet consumed by `until`. */
  #text = '';

  constructor(response: Response) {
    this.#reader = response.body!.getReader();
  }

  /** Reads until `expected` arrives; consumes the text up to its end. */
  async until(expected: string): Promise<void> {
    for (;;) {
      const at = this.#text.indexOf(expected);
      if (at >= 0) {
        this.#text = this.#text.slice(at + expected.length);
        return;
      }
      const { done, value } = await this.#reader.read();
      if (done) throw new Error(`the body ended before ${JSON.stringify(expected)}`);
      this.#text += this.#decoder.decode(value, { stream: true });
    }
  }

  /** Reads and drops `count` bytes of ASCII text (one byte a character). */
  async skip(count: number): Promise<void> {
    let left = count;
    while (left > 0) {
      if (this.#text.length > 0) {
        const taken = Math.min(left, this.#text.length);
        this.#text = this.#text.slice(taken);
        left -= taken;
        continue;
      }
      const { done, value } = await this.#reader.read();
      if (done) throw new Error(`the body ended ${left} bytes short`);
      if (value.byteLength <= left) left -= value.byteLength;
      else {
        this.#text = this.#decoder.decode(value.subarray(left), { stream: true });
        left = 0;
      }
    }
  }

  /** Resolves with what is left once the body ends cleanly (rejects when it is cut). */
  async end(): Promise<string> {
    for (;;) {
      const { done, value } = await this.#reader.read();
      if (done) return this.#text;
      this.#text += this.#decoder.decode(value, { stream: true });
    }
  }
}

/** Writes a burst until write() says false; resolves with the bytes written, the last one included. */
function fillPastHighWater(out: HttpStream): number {
  const chunk = `${'x'.repeat(256 * 1024 - 1)}\n`;
  let written = 0;
  // Bounded, so a transport that never reports backpressure fails the test instead of hanging it.
  while (written < 256 * 1024 * 1024) {
    written += chunk.length;
    if (!out.write(chunk)) return written;
  }
  throw new Error(`write() still said true after ${written} bytes`);
}

function onceClosed(out: HttpStream): Promise<void> {
  return new Promise((resolve) => out.onClose(resolve));
}

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
    await body.skip(written);
    // The first write after the burst may still count it (node counts a write done one loop turn
    // after the peer could read it); by the time the client read that write, nothing is left.
    out.write('data: 1\n\n');
    await body.until('data: 1\n\n');
    expect(out.write('data: 2\n\n')).toBe(true);
    await body.until('data: 2\n\n');
    expect(out.bufferedAmount).toBeLessThan(STREAM_HIGH_WATER_BYTES);
  });
});

// The one test here that waits on the clock: it probes timers. uWS cuts an HTTP connection after
// 10 s without traffic in some states (uws-http-stream.ts: after backpressure, unless handled);
// node:http has a 10 s requestTimeout and a 5 s keepAliveTimeout. An SSE stream may be silent
// for its heartbeat interval, so a stream must outlive 12 s of silence on both, backpressure or
// not. The four cases run at once (~12 s in all).
describe('a streamed response outlives 12 s of silence', () => {
  const cases = KINDS.flatMap((kind) => [
    { kind, burst: false, name: `${kind}: after one event` },
    { kind, burst: true, name: `${kind}: after backpressure` },
  ]);
  it.concurrent.for(cases)(
    '$name',
    { timeout: 15_000 },
    async ({ kind, burst }, { expect, onTestFinished }) => {
      const { url, streamed } = await serve(kind, onTestFinished);
      const response = await fetch(url);
      const { out } = await streamed;
      let closeCalls = 0;
      out.onClose(() => closeCalls++);
      const body = new Body(response);
      await body.until(': open\n\n');
      if (burst) await body.skip(fillPastHighWater(out));
      out.write('data: 1\n\n');
      await body.until('data: 1\n\n');

      await sleep(12_000);
      expect(closeCalls).toBe(0);
      expect(out.write('data: 2\n\n')).toBe(true);
      await body.until('data: 2\n\n');
      out.end();
      expect(await body.end()).toBe('');
    },
  );
});
