// Streamed-response fixtures for the transport tests (http-stream.test.ts, and the timed probe in
// test/http-stream-silence.test.ts): a server on either transport answering with an SSE stream,
// a reader of the body, and helpers to fill past the high-water mark and await a close.
import type { OnTestFinishedHandler } from 'vitest';
import type {
  HttpHandler,
  HttpStream,
  ServerTransport,
  SocketHandler,
  TransportOptions,
} from './transport.js';
import { UwsTransport } from './uws-transport.js';
import { WsTransport } from './ws-transport.js';

export type Kind = 'uws' | 'ws';
export const KINDS: Kind[] = ['uws', 'ws'];
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
export async function serve(
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
export class Body {
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
  async readPast(count: number): Promise<void> {
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
export function fillPastHighWater(out: HttpStream): number {
  const chunk = `${'x'.repeat(256 * 1024 - 1)}\n`;
  let written = 0;
  // Bounded, so a transport that never reports backpressure fails the test instead of hanging it.
  while (written < 256 * 1024 * 1024) {
    written += chunk.length;
    if (!out.write(chunk)) return written;
  }
  throw new Error(`write() still said true after ${written} bytes`);
}

export function onceClosed(out: HttpStream): Promise<void> {
  return new Promise((resolve) => out.onClose(resolve));
}
