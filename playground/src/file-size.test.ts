import { describe, expect, it } from 'vitest';
import { formatSize } from './file-size.js';

describe('formatSize', () => {
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
