// One exec's attached stream: input written, stdin closed (or handed to a streamed input), output
// demultiplexed until the stream ends, is abandoned, or turns out not to be a multiplexed stream.
import type { Duplex } from 'node:stream';
import { DockerStreamDemuxer } from './demux.js';
import type { ExecRequest } from './sandbox-driver.js';

export type PumpEnd = 'ended' | 'abandoned' | 'corrupt';

/** Write the input, close stdin, demultiplex the output until the stream ends. */
export function pump(socket: Duplex, request: ExecRequest): Promise<PumpEnd> {
  return new Promise((resolve) => {
    const demuxer = new DockerStreamDemuxer(request.onOutput);
    let settled = false;
    const settle = (end: PumpEnd) => {
      if (settled) return;
      settled = true;
      request.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(end);
    };
    const onAbort = () => settle('abandoned');
    if (request.signal?.aborted) return settle('abandoned');
    request.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('data', (chunk: Buffer) => {
      if (settled) return;
      try {
        demuxer.push(chunk);
      } catch {
        settle('corrupt');
      }
    });
    socket.on('end', () => settle('ended'));
    socket.on('close', () => settle('ended'));
    // EPIPE/ECONNRESET when the program exits without reading all its stdin: the output that
    // was sent before is already read (libuv reads before it writes); 'close' follows.
    socket.on('error', () => {});
    if (request.input !== null && request.input.length > 0) socket.write(request.input);
    if (request.stream) request.stream.attach(socket);
    else socket.end();
  });
}

/** Keeps the first bytes an exec printed, for an error message when the engine failed to start it. */
export class OutputHead {
  readonly onOutput: ExecRequest['onOutput'];
  #text = '';

  constructor(forward: ExecRequest['onOutput']) {
    this.onOutput = (stream, data) => {
      if (this.#text.length < HEAD_CHARS) this.#text += data.subarray(0, HEAD_CHARS).toString('utf8');
      forward(stream, data);
    };
  }

  /** `: <text>`, or '' when it printed nothing. */
  get said(): string {
    const text = this.#text.trim().slice(0, HEAD_CHARS);
    return text === '' ? '' : `: ${text}`;
  }
}

const HEAD_CHARS = 200;
