import { describe, expect, it } from 'vitest';
import { LANGUAGES } from '../../shared/languages.js';
import { formatSize, listerFor, parseListing } from './file-listers.js';

describe('file listers', () => {
  it('exist for every language the gateway runs', () => {
    expect(LANGUAGES.filter((lang) => listerFor(lang.name) === null).map((lang) => lang.name)).toEqual([]);
    expect(listerFor('cobol')).toBeNull();
  });

  it('parse `<size>\\t<path>` lines, sorted, without the main file, skipping junk', () => {
    const printed = [
      '12\tz.txt',
      '3\tMain.java',
      '5\tout/result.json',
      'garbage',
      '\t',
      'x\ty',
      '0\tempty',
      '',
    ];
    expect(parseListing('java', printed.join('\n'))).toEqual([
      { path: 'empty', size: 0 },
      { path: 'out/result.json', size: 5 },
      { path: 'z.txt', size: 12 },
    ]);
    // Another language's main file is an ordinary file.
    expect(parseListing('python', '3\tMain.java\n9\tmain.py\n')).toEqual([{ path: 'Main.java', size: 3 }]);
  });

  it('formats sizes', () => {
    expect([0, 1023, 1024, 1536, 5 * 1024 * 1024].map(formatSize)).toEqual([
      '0 B',
      '1023 B',
      '1.0 KiB',
      '1.5 KiB',
      '5.0 MiB',
    ]);
  });
});
