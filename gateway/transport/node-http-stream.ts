// A streamed response body on node:http (HttpStream, transport.ts), for the ws transport. Node
// frames it (chunked) and counts what waits for the peer; this only maps the two shapes.
// Its server timeouts (requestTimeout, headersTimeout) bound receiving the request only, and
// keepAliveTimeout starts once a response is done: a long-lived body is cut by none of them.
import type { ServerResponse } from 'node:http';
import { TransportStream } from './http-stream.js';

export class NodeHttpStream extends TransportStream {
  readonly #res: ServerResponse;

  /** `res` has its head written, and its peer was still there. */
  constructor(res: ServerResponse, release: () => void) {
    super(release);
    this.#res = res;
    // Also after our own end(), when it is a no-op (the stream is no longer open).
    res.once('close', () => this.gone());
  }

  /** Queued in the response and in its socket (writableLength counts both). */
  get bufferedAmount(): number {
    return this.closed ? 0 : this.#res.writableLength;
  }

  protected send(text: string): void {
    // Node's own verdict (its 16 KiB high-water mark) is not ours: write() compares the count.
    this.#res.write(text);
  }

  protected finish(): void {
    this.#res.end();
  }
}
