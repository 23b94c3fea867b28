import { describe, expect, it } from 'vitest';
import { CodeexecError } from '../../shared/errors.js';
import type { FileInput } from '../../shared/job.js';
import { INPUT_FILE_LIMITS } from '../../shared/limits.js';
import { jobFiles } from './job-files.js';

const utf8 = (name: string, content = 'x'): FileInput => ({ name, content, encoding: 'utf8' });
const base64 = (name: string, content: string): FileInput => ({ name, content, encoding: 'base64' });

function rejection(run: () => unknown): CodeexecError {
  try {
    run();
  } catch (err) {
    if (err instanceof CodeexecError) return err;
    throw err;
  }
  throw new Error('expected a CodeexecError');
}

describe('jobFiles', () => {
  it('puts the main file first, then the others decoded', () => {
    const files = jobFiles('main.py', 'import lib', [
      utf8('lib.py', 'X = "é"'),
      base64('data/bytes.bin', Buffer.from([0, 255, 128, 10]).toString('base64')),
    ]);
    expect(files.map((f) => f.name)).toEqual(['main.py', 'lib.py', 'data/bytes.bin']);
    expect(files[0]?.content).toEqual(Buffer.from('import lib'));
    expect(files[1]?.content).toEqual(Buffer.from('X = "é"'));
    expect(files[2]?.content).toEqual(Buffer.from([0, 255, 128, 10]));
  });

  it('accepts base64 wrapped over lines', () => {
    const text = Buffer.alloc(100, 'a').toString('base64');
    const wrapped = text.replace(/(.{76})/g, '$1\r\n');
    expect(jobFiles('m', '', [base64('a', wrapped)])[1]?.content).toEqual(Buffer.alloc(100, 'a'));
  });

  it.each<[string, FileInput[], RegExp]>([
    ['a `..` name', [utf8('../escape')], /file name "\.\.\/escape" contains a `\.\.` segment/],
    ['an absolute name', [utf8('/etc/passwd')], /absolute path/],
    ['a NUL', [utf8('a\0b')], /control character/],
    ['a newline', [utf8('a\nb')], /control character/],
    ['the main file again', [utf8('main.py')], /the main file's name \(main\.py\)/],
    ['a duplicate', [utf8('a'), utf8('a')], /already used/],
    ['a file used as a directory', [utf8('lib'), utf8('lib/x.py')], /needs "lib" to be a directory/],
    ['the main file used as a directory', [utf8('main.py/x')], /needs "main\.py" to be a directory/],
    ['invalid base64', [base64('b', 'not base64!')], /not valid base64/],
    ['base64 with bad padding', [base64('b', 'abc')], /not valid base64/],
    ['too many files', Array.from({ length: 65 }, (_, i) => utf8(`f${i}`)), /at most 64 files/],
    [
      'too many bytes',
      [utf8('big', 'x'.repeat(INPUT_FILE_LIMITS.total_bytes))],
      new RegExp(`at most ${INPUT_FILE_LIMITS.total_bytes} are allowed`),
    ],
  ])('rejects %s as invalid_request', (_what, files, message) => {
    const err = rejection(() => jobFiles('main.py', 'print(1)', files));
    expect(err.code).toBe('invalid_request');
    expect(err.message).toMatch(message);
  });
});
