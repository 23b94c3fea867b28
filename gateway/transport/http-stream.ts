// What both transports share for a streamed response body (HttpStream, transport.ts): its states,
// the high-water mark, and telling the handler, once, that the stream closed under it. Each
// transport writes the bytes its own way (uws-http-stream.ts, node-http-stream.ts).
import type { HttpStream } from './transport.js';

/** Past this many bytes not yet taken by the peer, write() says false (and still queues the text). */
export const STREAM_HIGH_WATER_BYTES = 1024 * 1024;

/**
 * `open` until the handler ends the body (`ended`) or the body closes under the handler (`gone`:
 * the peer left, or the transport is closing). Both are final.
 */
type StreamState = 'open' | 'ended' | 'gone';

export abstract class TransportStream implements HttpStream {
  #state: StreamState = 'open';
  #listeners: (() => void)[] = [];
  /** Tells the transport the stream left `open` (it keeps the open ones, to end them on close). */
  readonly #release: () => void;

  constructor(release: () => void) {
    this.#release = release;
  }

  abstract get bufferedAmount(): number;

  get closed(): boolean {
    return this.#state !== 'open';
  }

  write(text: string): boolean {
    if (this.#state !== 'open') return false;
    // An empty chunk would end a chunked body: there is nothing to write anyway.
    if (text.length > 0) this.send(text);
    return this.bufferedAmount <= STREAM_HIGH_WATER_BYTES;
  }

  end(): void {
    if (this.#state !== 'open') return;
    this.#state = 'ended';
    this.#release();
    this.finish();
  }

  onClose(listener: () => void): void {
    if (this.#state === 'open') this.#listeners.push(listener);
    else if (this.#state === 'gone') queueMicrotask(listener);
  }

  /** The peer went away: nothing more is written, and the listeners run. */
  gone(): void {
    if (this.#state !== 'open') return;
    this.#state = 'gone';
    this.#release();
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const listener of listeners) listener();
  }

  /** The transport is closing: the body ends as end() would end it, and the listeners run. */
  shutdown(): void {
    if (this.#state !== 'open') return;
    this.finish();
    this.gone();
  }

  /** Hands non-empty text to the connection (the stream is open). */
  protected abstract send(text: string): void;
  /** Ends the body on the connection: what was sent goes first (the stream is open). */
  protected abstract finish(): void;
}

/** The stream a handler gets when its peer left before the head was written. */
class GoneStream extends TransportStream {
  get bufferedAmount(): number {
    return 0;
  }
  protected send(): void {}
  protected finish(): void {}
}

export function goneStream(): HttpStream {
  const stream = new GoneStream(() => {});
  stream.gone();
  return stream;
}

/** The headers of a streamed response: its length is unknown, and the transport frames it itself. */
export function streamHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    const name = key.toLowerCase();
    if (name !== 'content-length' && name !== 'transfer-encoding') kept[key] = value;
  }
  return kept;
}

/** Hands the body to the handler. One that throws gets its body ended; the error goes on. */
export function startStream(stream: (out: HttpStream) => void, out: HttpStream): void {
  try {
    stream(out);
  } catch (err) {
    out.end();
    throw err;
  }
}
