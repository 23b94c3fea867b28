import { describe, expect, it } from 'vitest';
import { closeReason } from './close-reason.js';

const bytes = (text: string) => new TextEncoder().encode(text).length;

describe('closeReason', () => {
  it('keeps a short reason as it is', () => {
    expect(closeReason('gateway stopping')).toBe('gateway stopping');
  });

  it('cuts multi-byte text to 123 bytes without splitting a character', () => {
    const cut = closeReason(`unsupported protocol ${'é'.repeat(100)}`);
    expect(bytes(cut)).toBeLessThanOrEqual(123);
    expect(bytes(cut)).toBeGreaterThan(120);
    expect(cut.endsWith('é')).toBe(true);
    const emoji = closeReason('😀'.repeat(40));
    expect(bytes(emoji)).toBe(120);
    expect([...emoji].every((char) => char === '😀')).toBe(true);
  });

  it('replaces lone surrogates, which are not UTF-8', () => {
    expect(closeReason('bad \uD83D frame \uDE00 end')).toBe('bad \uFFFD frame \uFFFD end');
    expect(closeReason('pair \uD83D\uDE00 kept')).toBe('pair 😀 kept');
  });
});
