import { describe, expect, it } from 'vitest';
import { MAX_LISTED_FILES, MAX_LISTED_PATH_CHARS } from '../../shared/client-protocol.js';
import { listingArgv, parseListing } from './file-listing.js';

/** find's output for these records: `<size>\t<path>\0` each, paths as raw bytes. */
const printed = (...records: [number | string, string | Buffer][]) =>
  Buffer.concat(
    records.map(([size, path]) =>
      Buffer.concat([
        Buffer.from(`${size}\t`),
        Buffer.isBuffer(path) ? path : Buffer.from(path),
        Buffer.of(0),
      ]),
    ),
  );

describe('parseListing', () => {
  it('reads `<size>\\t<path>\\0` records, sorted by path', () => {
    expect(parseListing(printed([17, 'notes.txt'], [3, 'data/b.csv'], [0, 'empty']), false)).toEqual({
      files: [
        { path: 'data/b.csv', size: 3 },
        { path: 'empty', size: 0 },
        { path: 'notes.txt', size: 17 },
      ],
      truncated: false,
    });
    expect(parseListing(Buffer.alloc(0), false)).toEqual({ files: [], truncated: false });
  });

  it.each([
    ['a newline', 'two\nlines.txt'],
    ['a tab', 'tab\there'],
    ['a carriage return and an escape', 'x\r\u001b[31mred'],
    ['spaces and quotes', ' "quoted" \'and\' spaced '],
    ['a leading dash', '-rf'],
    ['non-ASCII', 'déjà vu/日本語.txt'],
  ])('keeps a name with %s whole', (_what, name) => {
    expect(parseListing(printed([5, name], [1, 'z']), false).files).toEqual([
      { path: name, size: 5 },
      { path: 'z', size: 1 },
    ]);
  });

  it('decodes bytes that are not UTF-8 as U+FFFD', () => {
    const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x74, 0x78, 0x74]); // café.txt in Latin-1
    expect(parseListing(printed([2, latin1], [3, Buffer.from([0xff, 0xfe])]), false).files).toEqual([
      { path: 'caf\uFFFD.txt', size: 2 },
      { path: '\uFFFD\uFFFD', size: 3 },
    ]);
  });

  it('skips records that do not parse', () => {
    const junk = Buffer.concat([
      Buffer.from('no tab here\0'),
      Buffer.from('\tno size\0'),
      Buffer.from('12x\tbad size\0'),
      Buffer.from('-1\tnegative\0'),
      Buffer.from('7\t\0'), // an empty path
      Buffer.from('99999999999999999999\thuge\0'),
      Buffer.from(`4\t${'a'.repeat(MAX_LISTED_PATH_CHARS + 1)}\0`),
      printed([1, 'good']),
    ]);
    expect(parseListing(junk, false)).toEqual({ files: [{ path: 'good', size: 1 }], truncated: false });
  });

  it('drops a record cut off at the end of output that was cut short, and says truncated', () => {
    const whole = printed([1, 'a'], [2, 'b']);
    const cut = Buffer.concat([whole, Buffer.from('3\tc-is-cu')]);
    expect(parseListing(cut, true)).toEqual({
      files: [
        { path: 'a', size: 1 },
        { path: 'b', size: 2 },
      ],
      truncated: true,
    });
    // Cut at a record's end, it still says so: more may have followed.
    expect(parseListing(whole, true).truncated).toBe(true);
    // Bytes after the last NUL of output that was not cut are not find's: not a whole listing.
    expect(parseListing(cut, false).truncated).toBe(true);
  });

  it('lists at most MAX_LISTED_FILES, the first by path, and says truncated', () => {
    const names = Array.from({ length: MAX_LISTED_FILES + 5 }, (_, i) => `f${String(i).padStart(5, '0')}`);
    const listing = parseListing(
      printed(...[...names].reverse().map((name) => [1, name] as [number, string])),
      false,
    );
    expect(listing.truncated).toBe(true);
    expect(listing.files).toHaveLength(MAX_LISTED_FILES);
    expect(listing.files[0]?.path).toBe('f00000');
    expect(listing.files.at(-1)?.path).toBe(`f${String(MAX_LISTED_FILES - 1).padStart(5, '0')}`);
    const exactly = names.slice(0, MAX_LISTED_FILES).map((name) => [1, name] as [number, string]);
    expect(parseListing(printed(...exactly), false).truncated).toBe(false);
  });
});

describe('listingArgv', () => {
  it('runs find under a time limit, regular files only, on the workspace alone, NUL-separated', () => {
    expect(listingArgv()).toEqual([
      'timeout',
      '2',
      'find',
      '/workspace',
      '-xdev',
      '-type',
      'f',
      '-printf',
      '%s\\t%P\\0',
    ]);
  });
});
