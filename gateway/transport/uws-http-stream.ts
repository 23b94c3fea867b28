// A streamed response body on uWebSockets.js (HttpStream, transport.ts). Two things uWS does not
// do for us here:
// - Corking. uWS corks a response only inside that response's own callbacks: text written from
//   anywhere else (a runner socket's callback relaying output) would cost a send(2) per piece of
//   chunk framing. So text waits for the event-loop turn's end and goes out in one corked write.
// - Keeping a stream that met backpressure alive. uWS (20.30) has no HTTP timeout while a
//   response is pending, but arms its 10-second one when a write is refused and re-arms it on
//   every writable event; only a registered onWritable handler disarms it again. So without one,
//   a stream whose peer fell behind once is cut ~10 s after the peer caught up, writes or not.
//   With one, each writable event disarms it and leaves the draining to the handler (an empty
//   cork writes what uWS holds). A peer that takes nothing for 10 s while bytes wait for it is
//   still cut, as uWS intends: the stream closes as if the peer left.
import type uWS from 'uWebSockets.js';
import { TransportStream } from './http-stream.js';

/** Text queued this turn is written at once when it reaches this much (as UwsSocket does). */
const FLUSH_AT_BYTES = 64 * 1024;

export class UwsHttpStream extends TransportStream {
  readonly #res: uWS.HttpResponse;
  /** Text written this turn and not yet handed to uWS (null when none), and its UTF-8 size. */
  #pending: string[] | null = null;
  #pendingBytes = 0;
  #flushScheduled = false;
  /**
   * Bytes handed to uWS since the last write it took whole. uWS does not say how much an HTTP
   * response holds, only whether a write left bytes behind (a write first sends what it held), so
   * this is an estimate: over by what the peer read since that write, and under by what a corked
   * write's uncork left behind (at most a cork buffer, 16 KiB), until the next write.
   */
  #backlog = 0;

  /** `res` must not have been aborted; its head is written. */
  constructor(res: uWS.HttpResponse, release: () => void) {
    super(release);
    this.#res = res;
    res.onWritable(() => {
      this.#flush();
      return true;
    });
  }

  get bufferedAmount(): number {
    return this.closed ? 0 : this.#pendingBytes + this.#backlog;
  }

  protected send(text: string): void {
    this.#pending ??= [];
    this.#pending.push(text);
    this.#pendingBytes += Buffer.byteLength(text);
    // Behind backpressure, text goes now, so that what write() returns is uWS's own verdict, not
    // a backlog counted before the peer caught up. A big burst goes at once: the queue stays small.
    if (this.#backlog > 0 || this.#pendingBytes >= FLUSH_AT_BYTES) this.#flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        this.#flush();
      });
    }
  }

  protected finish(): void {
    this.#res.cork(() => {
      this.#write();
      this.#res.end();
    });
  }

  /**
   * Writes what this turn queued in one corked block. With nothing queued, the cork alone makes uWS
   * write what it holds (its uncork sends that first).
   */
  #flush(): void {
    // Ended: finish() wrote everything. Gone: uWS forbids touching `res` after an abort.
    if (this.closed) return;
    this.#res.cork(() => this.#write());
  }

  #write(): void {
    const pending = this.#pending;
    if (pending === null) return;
    this.#pending = null;
    const bytes = this.#pendingBytes;
    this.#pendingBytes = 0;
    if (this.#res.write(pending.length === 1 ? pending[0]! : pending.join(''))) this.#backlog = 0;
    else this.#backlog += bytes;
  }
}
