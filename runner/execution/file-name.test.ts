import { describe, expect, it } from 'vitest';
import { fileNameProblem, isSafeFileName } from './file-name.js';

describe('fileNameProblem', () => {
  it.each<[string, RegExp]>([
    ['', /empty/],
    ['/etc/passwd', /absolute/],
    ['../x', /`\.\.`/],
    ['a/../../x', /`\.\.`/],
    ['..', /`\.\.`/],
    ['./x', /empty or `\.`/],
    ['a//b', /empty or `\.`/],
    ['a/', /empty or `\.`/],
    ['a\\b', /backslash/],
    ['a\0b', /control/],
    ['a\nb', /control/],
    ['a\rb', /control/],
    ['a\tb', /control/],
    ['a\u001bb', /control/],
    ['a\u007fb', /control/],
    ['a\ud800b', /Unicode/],
    ['x'.repeat(256), /longer than 255 bytes/],
    ['é'.repeat(128), /longer than 255 bytes/],
    [Array(17).fill('d').join('/'), /deeper than 16/],
  ])('refuses %j', (name, why) => {
    expect(fileNameProblem(name)).toMatch(why);
    expect(isSafeFileName(name)).toBe(false);
  });

  it.each([
    'main.py',
    'src/main.rs',
    '.hidden',
    'a..b',
    '...',
    'dir with spaces/ünïcödé €.txt',
    'x'.repeat(255),
    Array(16).fill('d').join('/'),
    '-rf',
  ])('accepts %j', (name) => {
    expect(fileNameProblem(name)).toBeNull();
  });
});
