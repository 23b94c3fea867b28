// Large messages in parts: put back together whole, one message under way per publisher, and a
// lost or forged part drops that message only.
import { describe, expect, it } from 'vitest';
import { MAX_PARTS, Reassembly, split } from './fragments.js';

const bytes = (length: number, seed = 0) =>
  Buffer.from(Array.from({ length }, (_, i) => (i * 7 + seed) % 251));

describe('split and Reassembly', () => {
  it('leaves a message that fits alone', () => {
    const payload = Buffer.from('{"type":"output"}');
    expect(split(payload, 1024, 'p:1')).toEqual([payload]);
    expect(new Reassembly().accept(payload)).toEqual({ kind: 'whole', bytes: payload });
  });

  it('cuts a large message and puts it back together', () => {
    const payload = bytes(10_000);
    const parts = split(payload, 1024, 'p:1');
    expect(parts.length).toBeGreaterThan(10);
    for (const part of parts) expect(part.byteLength).toBeLessThanOrEqual(1024);
    const reassembly = new Reassembly();
    const results = parts.map((part) => reassembly.accept(part));
    expect(results.slice(0, -1).every((result) => result.kind === 'partial')).toBe(true);
    expect(results.at(-1)).toEqual({ kind: 'whole', bytes: payload });
  });

  it('keeps two publishers’ messages apart when their parts interleave', () => {
    const a = bytes(3000, 1);
    const b = bytes(3000, 2);
    const partsA = split(a, 1024, 'pa:1');
    const partsB = split(b, 1024, 'pb:1');
    const reassembly = new Reassembly();
    const whole: Buffer[] = [];
    for (let i = 0; i < Math.max(partsA.length, partsB.length); i++) {
      for (const part of [partsA[i], partsB[i]]) {
        const result = part && reassembly.accept(part);
        if (result?.kind === 'whole') whole.push(Buffer.from(result.bytes));
      }
    }
    expect(whole).toEqual([a, b]);
  });

  it('drops a message that lost a part, and takes the next one whole', () => {
    const reassembly = new Reassembly();
    const [first, , third] = split(bytes(3000), 1024, 'p:1');
    expect(reassembly.accept(first!).kind).toBe('partial');
    expect(reassembly.accept(third!)).toMatchObject({ kind: 'malformed' });
    const next = bytes(2500, 3);
    const results = split(next, 1024, 'p:2').map((part) => reassembly.accept(part));
    expect(results.at(-1)).toEqual({ kind: 'whole', bytes: next });
  });

  it.each(['#p:1 0/1000\n', '#p:1 5/3\n', '#garbage\n', '#p:1 0/2'])(
    'refuses the forged part %j',
    (header) => {
      expect(new Reassembly().accept(Buffer.from(`${header}x`)).kind).toBe('malformed');
    },
  );

  it('refuses to cut a message into more than MAX_PARTS', () => {
    expect(() => split(bytes(1024 * (MAX_PARTS + 1)), 1024, 'p:1')).toThrow(/more than/);
  });
});
