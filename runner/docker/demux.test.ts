import { describe, expect, it } from 'vitest';
import { DockerStreamDemuxer, type StreamName } from './demux.js';

function frame(kind: number, text: string): Buffer {
  const body = Buffer.from(text);
  const header = Buffer.alloc(8);
  header.writeUInt8(kind, 0);
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

function collect(chunks: Buffer[]): [StreamName, string][] {
  const frames: [StreamName, string][] = [];
  const demuxer = new DockerStreamDemuxer((stream, data) => frames.push([stream, data.toString()]));
  for (const chunk of chunks) demuxer.push(chunk);
  expect(demuxer.leftover).toBe(0);
  return frames;
}

describe('DockerStreamDemuxer', () => {
  const wire = Buffer.concat([frame(1, 'out one'), frame(2, 'err'), frame(1, 'out two')]);
  const expected = [
    ['stdout', 'out one'],
    ['stderr', 'err'],
    ['stdout', 'out two'],
  ];

  it('splits frames that arrive in one chunk', () => {
    expect(collect([wire])).toEqual(expected);
  });

  it('joins frames cut at every possible byte', () => {
    for (let cut = 1; cut < wire.length; cut++) {
      expect(collect([wire.subarray(0, cut), wire.subarray(cut)])).toEqual(expected);
    }
  });

  it('survives one byte at a time', () => {
    expect(collect([...wire].map((byte) => Buffer.from([byte])))).toEqual(expected);
  });

  it('skips empty frames and stream 0', () => {
    expect(collect([Buffer.concat([frame(1, ''), frame(0, 'stdin'), frame(2, 'e')])])).toEqual([
      ['stderr', 'e'],
    ]);
  });

  it('reports a stream cut mid-frame as leftover bytes', () => {
    const demuxer = new DockerStreamDemuxer(() => {});
    demuxer.push(frame(1, 'abcdef').subarray(0, 10));
    expect(demuxer.leftover).toBe(10);
  });

  it('throws on a header that is not Docker multiplexing', () => {
    const demuxer = new DockerStreamDemuxer(() => {});
    expect(() => demuxer.push(Buffer.from('hello world, raw tty output'))).toThrow(/unknown stream byte/);
  });
});
