import { describe, expect, it } from 'vitest';
import { parseEndRecord, StdoutTrailer } from './stdout-trailer.js';

const MARKER = '\u001ecodeexec-end:0123456789abcdef';
const EXITED = `${MARKER}x 0 12 -\n`;

function split(chunks: (string | Buffer)[], cap = Number.POSITIVE_INFINITY) {
  const program: string[] = [];
  const archive: string[] = [];
  let programBytes = 0;
  const splitter = new StdoutTrailer(
    MARKER,
    (data) => {
      program.push(data.toString('latin1'));
      programBytes += data.length;
      return programBytes <= cap;
    },
    (data) => archive.push(data.toString('latin1')),
  );
  const accepted = chunks.map((chunk) =>
    splitter.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk),
  );
  const endAccepted = splitter.end();
  return {
    program,
    archive: archive.join(''),
    end: splitter.programEnd,
    files: splitter.filesFollow,
    accepted,
    endAccepted,
  };
}

describe('parseEndRecord', () => {
  it.each([
    ['x 0 12 -', { end: { exited: 0, signal: null, cpuMs: 12 }, files: false }],
    ['x 137 3 f', { end: { exited: 137, signal: null, cpuMs: 3 }, files: true }],
    ['s 9 61000 -', { end: { exited: null, signal: 9, cpuMs: 61000 }, files: false }],
    ['s 11 0 f', { end: { exited: null, signal: 11, cpuMs: 0 }, files: true }],
  ])('reads %j', (line, parsed) => {
    expect(parseEndRecord(line)).toEqual(parsed);
  });

  it.each(['', 'x 0 12', 'x 256 0 -', 's 0 0 -', 's 65 0 -', 'y 0 0 -', 'x -1 0 -', 'x 0 1 - ', 'x 0 1e3 -'])(
    'refuses %j',
    (line) => {
      expect(parseEndRecord(line)).toBeNull();
    },
  );
});

describe('StdoutTrailer', () => {
  it('passes output through untouched when no marker comes', () => {
    expect(split(['hello ', 'world\n'])).toMatchObject({
      program: ['hello ', 'world\n'],
      archive: '',
      end: null,
    });
  });

  it('splits at the marker and reads the end record, in one chunk', () => {
    expect(split([`out${EXITED}`])).toMatchObject({
      program: ['out'],
      end: { exited: 0, signal: null, cpuMs: 12 },
      files: false,
    });
  });

  it('gives the tar after a record that announces it to the archive', () => {
    expect(split([`out${MARKER}s 11 4 f\nTAR`, 'MORE'])).toMatchObject({
      program: ['out'],
      archive: 'TARMORE',
      end: { exited: null, signal: 11, cpuMs: 4 },
      files: true,
    });
  });

  it('gives what follows a record without files back to the program (its background output)', () => {
    const result = split([`out${EXITED}late`, ' more']);
    expect(result).toMatchObject({ program: ['out', 'late', ' more'], archive: '', files: false });
    expect(result.end?.exited).toBe(0);
  });

  it('finds a marker and a record cut across chunks, holding back only what could be the marker', () => {
    const at = 7;
    const result = split([`abc${MARKER.slice(0, at)}`, `${MARKER.slice(at)}x 13`, '7 5 f', '\nTAR', 'MORE']);
    expect(result.program.join('')).toBe('abc');
    expect(result).toMatchObject({ archive: 'TARMORE', end: { exited: 137, cpuMs: 5 }, files: true });
  });

  it('gives back held bytes that turned out not to be the marker', () => {
    const result = split([`abc${MARKER.slice(0, 5)}`, 'xyz']);
    expect(result.program.join('')).toBe(`abc${MARKER.slice(0, 5)}xyz`);
    expect(result.end).toBeNull();
  });

  it('flushes held bytes at the end of the stream', () => {
    expect(split([`abc${MARKER.slice(0, 3)}`]).program).toEqual(['abc', MARKER.slice(0, 3)]);
  });

  it('streams text that cannot start a marker at once', () => {
    expect(split(['line 1\n']).program).toEqual(['line 1\n']);
  });

  it('takes a forged, malformed record for none, and drops it', () => {
    expect(split([`a${MARKER}garbage\nrest`])).toMatchObject({ program: ['a', 'rest'], end: null });
    expect(split([`a${MARKER}${'y'.repeat(100)}`, 'z'])).toMatchObject({ program: ['a', 'z'], end: null });
  });

  it('reads only the first record: a second marker is the program output or archive it lands in', () => {
    expect(split([`a${EXITED}b${EXITED}`])).toMatchObject({ program: ['a', `b${EXITED}`] });
  });

  it('reports the program part passing its cap, before and after the record', () => {
    expect(split(['12345', '678'], 6).accepted).toEqual([true, false]);
    expect(split([`1234567${EXITED}`], 6).accepted).toEqual([false]);
    expect(split([`12345${MARKER.slice(0, 2)}`], 6)).toMatchObject({ accepted: [true], endAccepted: false });
    expect(split([`12345${EXITED}`, '678'], 6).accepted).toEqual([true, false]);
  });
});
