import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../shared/index.js';
import { fitResult } from './fit-result.js';

const base: RunResult = {
  stdout: '',
  stderr: '',
  output: '',
  exit_code: 0,
  signal: null,
  reason: 'exited',
  wall_ms: 1,
  truncated: false,
};
const size = (r: RunResult) => Buffer.byteLength(JSON.stringify(r));

describe('fitResult', () => {
  it('leaves a result that fits alone', () => {
    const result = { ...base, stdout: 'hi\n', output: 'hi\n' };
    expect(fitResult(result, 10_000)).toBe(result);
  });

  it.each([
    ['plain text', 'x'.repeat(300_000)],
    ['control bytes that JSON escapes sixfold', '\u0001'.repeat(100_000)],
  ])('cuts %s until the frame fits, combined output first, and marks it truncated', (_name, text) => {
    const result = { ...base, stdout: text, stderr: text.slice(0, 1000), output: text + text.slice(0, 1000) };
    const fitted = fitResult(result, 200_000);
    expect(size(fitted)).toBeLessThanOrEqual(200_000);
    expect(fitted.truncated).toBe(true);
    expect(text.startsWith(fitted.stdout)).toBe(true);
    expect(fitted.output.length).toBeLessThan(result.output.length);
  });

  it('drops output files before cutting text', () => {
    const result = {
      ...base,
      stdout: 'ok\n',
      files: [{ name: 'big.bin', content: 'A'.repeat(50_000), size: 37_500, truncated: false }],
    };
    const fitted = fitResult(result, 10_000);
    expect(fitted.files).toEqual([]);
    expect(fitted.stdout).toBe('ok\n');
  });
});
