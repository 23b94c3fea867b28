// Collects one stage's output: per-stream byte caps, UTF-8 decoding that survives characters split
// across chunks, stdout and stderr interleaved in arrival order, and live chunks for streaming.
import { StringDecoder } from 'node:string_decoder';
import type { StreamName } from '../docker/demux.js';

/** A piece of live output, as UTF-8 text. */
export interface OutputChunk {
  stream: StreamName;
  data: string;
}

class StreamText {
  readonly decoder = new StringDecoder('utf8');
  readonly parts: string[] = [];
  bytes = 0;
  full = false;
}

export interface CollectedOutput {
  stdout: string;
  stderr: string;
  output: string;
  truncated: boolean;
}

export class StageOutput {
  private readonly limitBytes: number;
  private readonly onChunk: ((chunk: OutputChunk) => void) | null;
  private readonly streams = { stdout: new StreamText(), stderr: new StreamText() };
  private readonly interleaved: string[] = [];
  private finished = false;

  /** limitBytes: bytes kept per stream; past it the stream is cut and `truncated` is set. */
  constructor(limitBytes: number, onChunk: ((chunk: OutputChunk) => void) | null) {
    this.limitBytes = limitBytes;
    this.onChunk = onChunk;
  }

  get truncated(): boolean {
    return this.streams.stdout.full || this.streams.stderr.full;
  }

  /** Take a frame of raw output. Returns false once this stream went past its cap. */
  push(name: StreamName, data: Buffer): boolean {
    const stream = this.streams[name];
    if (stream.full || this.finished) return !stream.full;
    const room = this.limitBytes - stream.bytes;
    const kept = data.length > room ? data.subarray(0, room) : data;
    stream.bytes += kept.length;
    if (data.length > room) stream.full = true;
    this.append(name, stream.decoder.write(kept));
    return !stream.full;
  }

  /** Flush the decoders and return the stage's text. Calling it twice returns the same text. */
  finish(): CollectedOutput {
    if (!this.finished) {
      this.finished = true;
      for (const name of ['stdout', 'stderr'] as const) {
        const stream = this.streams[name];
        // A character cut by the byte cap is dropped rather than shown as U+FFFD.
        if (!stream.full) this.append(name, stream.decoder.end());
      }
    }
    return {
      stdout: this.streams.stdout.parts.join(''),
      stderr: this.streams.stderr.parts.join(''),
      output: this.interleaved.join(''),
      truncated: this.truncated,
    };
  }

  private append(name: StreamName, text: string): void {
    if (text === '') return;
    this.streams[name].parts.push(text);
    this.interleaved.push(text);
    this.onChunk?.({ stream: name, data: text });
  }
}
