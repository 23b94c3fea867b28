import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../shared/index.js';
import { capUtf8, storedResult } from './stored-result.js';

describe('capUtf8', () => {
  it.each([
    ['short ASCII', 'hello', 10, 'hello', false],
    ['exactly at the cap', 'hello', 5, 'hello', false],
    ['ASCII past the cap', 'hello world', 5, 'hello', true],
    // "é" is 2 bytes: a cap inside it keeps the whole characters before it, never half of one.
    ['inside a 2-byte character', 'aéb', 2, 'a', true],
    ['after a 2-byte character', 'aéb', 3, 'aé', true],
    // "😀" is 4 bytes (a surrogate pair in UTF-16).
    ['inside a 4-byte character', 'x😀y', 4, 'x', true],
    ['zero bytes', 'abc', 0, '', true],
  ])('%s', (_name, text, max, expected, cut) => {
    const result = capUtf8(text, max);
    expect(result).toEqual({ text: expected, cut });
    expect(Buffer.byteLength(result.text)).toBeLessThanOrEqual(max);
    expect(result.text).not.toContain('\uFFFD');
  });
});

describe('storedResult', () => {
  const stage = (text: string) => ({
    stdout: text,
    stderr: '',
    output: text,
    exit_code: 0,
    signal: null,
    reason: 'exited' as const,
    wall_ms: 5,
    truncated: false,
  });

  it('keeps a small result whole and says nothing was cut', () => {
    const result: RunResult = { ...stage('hi\n'), files: [] };
    expect(storedResult(result, 1024)).toMatchObject({
      stdout: 'hi\n',
      output: 'hi\n',
      output_capped: false,
    });
  });

  it.each([
    ['the run stage', { ...stage('x'.repeat(2000)) }],
    ['the compile stage', { ...stage('ok'), compile: stage('e'.repeat(2000)) }],
  ])('cuts %s to the cap and flags it', (_name, result: RunResult) => {
    const stored = storedResult(result, 1000);
    expect(stored.output_capped).toBe(true);
    for (const text of [stored.stdout, stored.output, stored.compile?.stdout ?? '']) {
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1000);
    }
  });
});
