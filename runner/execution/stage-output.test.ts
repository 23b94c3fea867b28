import { describe, expect, it } from 'vitest';
import { type OutputChunk, StageOutput } from './stage-output.js';

describe('StageOutput', () => {
  it('interleaves streams in arrival order and emits each piece', () => {
    const chunks: OutputChunk[] = [];
    const out = new StageOutput(1000, (chunk) => chunks.push(chunk));
    out.push('stdout', Buffer.from('a\n'));
    out.push('stderr', Buffer.from('E\n'));
    out.push('stdout', Buffer.from('b\n'));
    expect(out.finish()).toEqual({ stdout: 'a\nb\n', stderr: 'E\n', output: 'a\nE\nb\n', truncated: false });
    expect(chunks).toEqual([
      { stream: 'stdout', data: 'a\n' },
      { stream: 'stderr', data: 'E\n' },
      { stream: 'stdout', data: 'b\n' },
    ]);
  });

  it('keeps a multi-byte character split across frames whole', () => {
    const chunks: OutputChunk[] = [];
    const out = new StageOutput(1000, (chunk) => chunks.push(chunk));
    const euro = Buffer.from('x€y'); // € is 3 bytes
    out.push('stdout', euro.subarray(0, 2));
    out.push('stderr', Buffer.from('!'));
    out.push('stdout', euro.subarray(2));
    expect(out.finish()).toMatchObject({ stdout: 'x€y', output: 'x!€y' });
    expect(chunks.map((c) => c.data)).toEqual(['x', '!', '€y']);
    expect(chunks.every((c) => !c.data.includes('\uFFFD'))).toBe(true);
  });

  it('caps each stream at the byte limit and reports it', () => {
    const out = new StageOutput(5, null);
    expect(out.push('stdout', Buffer.from('abc'))).toBe(true);
    expect(out.push('stdout', Buffer.from('defgh'))).toBe(false);
    expect(out.push('stdout', Buffer.from('more'))).toBe(false);
    // The other stream has its own cap.
    expect(out.push('stderr', Buffer.from('12345'))).toBe(true);
    expect(out.finish()).toEqual({ stdout: 'abcde', stderr: '12345', output: 'abcde12345', truncated: true });
  });

  it('drops a character the cap cuts in half instead of showing U+FFFD', () => {
    const out = new StageOutput(2, null);
    out.push('stdout', Buffer.from('a€'));
    expect(out.finish().stdout).toBe('a');
  });

  it('flushes a dangling partial character at the end as U+FFFD', () => {
    const out = new StageOutput(100, null);
    out.push('stdout', Buffer.from('€').subarray(0, 1));
    expect(out.finish().stdout).toBe('\uFFFD');
  });

  it('returns the same text when finished twice', () => {
    const out = new StageOutput(100, null);
    out.push('stdout', Buffer.from('x'));
    expect(out.finish()).toEqual(out.finish());
  });
});
