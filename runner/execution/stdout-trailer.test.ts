import { describe, expect, it } from 'vitest';
import { StdoutTrailer } from './stdout-trailer.js';

const MARKER = '\u001ecodeexec-files:0123456789abcdef';

function split(chunks: (string | Buffer)[], cap = Number.POSITIVE_INFINITY) {
  const program: string[] = [];
  const trailer: string[] = [];
  let programBytes = 0;
  const splitter = new StdoutTrailer(
    MARKER,
    (data) => {
      program.push(data.toString('latin1'));
      programBytes += data.length;
      return programBytes <= cap;
    },
    (data) => trailer.push(data.toString('latin1')),
  );
  const accepted = chunks.map((chunk) => splitter.push(Buffer.from(chunk)));
  const endAccepted = splitter.end();
  return { program, trailer: trailer.join(''), seen: splitter.seen, accepted, endAccepted };
}

describe('StdoutTrailer', () => {
  it('passes output through untouched when no marker comes', () => {
    expect(split(['hello ', 'world\n'])).toMatchObject({
      program: ['hello ', 'world\n'],
      trailer: '',
      seen: false,
    });
  });

  it('splits at the marker, in one chunk', () => {
    expect(split([`out${MARKER}TAR`])).toMatchObject({ program: ['out'], trailer: 'TAR', seen: true });
  });

  it('finds a marker cut across chunks, holding back only what could be its start', () => {
    const at = 7;
    const result = split([`abc${MARKER.slice(0, at)}`, `${MARKER.slice(at)}TAR`, 'MORE']);
    expect(result.program.join('')).toBe('abc');
    expect(result.trailer).toBe('TARMORE');
    expect(result.seen).toBe(true);
  });

  it('gives back held bytes that turned out not to be the marker', () => {
    const result = split([`abc${MARKER.slice(0, 5)}`, 'xyz']);
    expect(result.program.join('')).toBe(`abc${MARKER.slice(0, 5)}xyz`);
    expect(result.seen).toBe(false);
  });

  it('flushes held bytes at the end of the stream', () => {
    const result = split([`abc${MARKER.slice(0, 3)}`]);
    expect(result.program).toEqual(['abc', MARKER.slice(0, 3)]);
  });

  it('streams text that cannot start a marker at once', () => {
    expect(split(['line 1\n']).program).toEqual(['line 1\n']);
  });

  it('treats everything after the marker, even another marker, as the trailer', () => {
    expect(split([`a${MARKER}b${MARKER}c`])).toMatchObject({ program: ['a'], trailer: `b${MARKER}c` });
  });

  it('reports the program part passing its cap', () => {
    expect(split(['12345', '678'], 6).accepted).toEqual([true, false]);
    expect(split([`1234567${MARKER}`], 6).accepted).toEqual([false]);
    expect(split([`12345${MARKER.slice(0, 2)}`], 6)).toMatchObject({ accepted: [true], endAccepted: false });
  });
});
