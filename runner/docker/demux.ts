// Parser for Docker's multiplexed attach stream (Tty off): frames of an 8-byte header
// [stream, 0, 0, 0, size uint32 big-endian] then `size` bytes. Written here rather than using
// docker-modem's demuxStream, which re-concatenates its whole buffer per chunk and silently falls
// back to raw passthrough on a bad header.

export type StreamName = 'stdout' | 'stderr';

const HEADER_BYTES = 8;
const STREAM_BY_BYTE: Record<number, StreamName | undefined> = { 1: 'stdout', 2: 'stderr' };

export class DockerStreamDemuxer {
  /** Bytes of an incomplete header or frame body, waiting for the next chunk. */
  private pending: Buffer = Buffer.alloc(0);
  private readonly onFrame: (stream: StreamName, data: Buffer) => void;

  constructor(onFrame: (stream: StreamName, data: Buffer) => void) {
    this.onFrame = onFrame;
  }

  /** Feed the next chunk read from the socket; complete frames are emitted in order. */
  push(chunk: Buffer): void {
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (buf.length >= HEADER_BYTES) {
      const kind = buf.readUInt8(0);
      const size = buf.readUInt32BE(4);
      if (kind > 2) throw new Error(`Docker stream: unknown stream byte ${kind}`);
      if (buf.length < HEADER_BYTES + size) break;
      const stream = STREAM_BY_BYTE[kind];
      // Stream 0 (stdin echo) never carries program output; skip it.
      if (stream !== undefined && size > 0) {
        this.onFrame(stream, buf.subarray(HEADER_BYTES, HEADER_BYTES + size));
      }
      buf = buf.subarray(HEADER_BYTES + size);
    }
    // Copy so the socket's (possibly large) chunk is not retained by a small tail.
    this.pending = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
  }

  /** Bytes left over when the stream ended: non-zero means the stream was cut mid-frame. */
  get leftover(): number {
    return this.pending.length;
  }
}
