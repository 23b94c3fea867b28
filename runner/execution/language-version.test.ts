import { describe, expect, it } from 'vitest';
import { parseVersion } from './language-version.js';

describe('parseVersion', () => {
  it.each([
    ['Python 3.11.2\n', '3.11.2'],
    ['v18.20.4\n', '18.20.4'],
    ['go version go1.19.8 linux/amd64\n', '1.19.8'],
    ['openjdk 17.0.13 2024-10-15\nOpenJDK Runtime Environment', '17.0.13'],
    ['rustc 1.63.0\n', '1.63.0'],
    ['GNU bash, version 5.2.15(1)-release (x86_64-pc-linux-gnu)\n', '5.2.15'],
    ['ruby 3.1.2p20 (2022-04-12 revision 4491bb740a) [x86_64-linux-gnu]', '3.1.2'],
    ['\n\n  gcc (Debian 12.2.0-14) 12.2.0\n', '12.2.0'],
  ])('%j → %s', (output, version) => {
    expect(parseVersion(output)).toBe(version);
  });

  it.each(['', '\n \n', 'no digits here\n3.1 on the second line'])('%j has none', (output) => {
    expect(parseVersion(output)).toBeNull();
  });
});
