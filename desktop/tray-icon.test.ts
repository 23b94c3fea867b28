import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, TONE_COLOURS, trayIconPng } from './tray-icon.js';

/** The PNG's chunks, each CRC checked, and its RGBA pixels. */
function decode(png: Buffer) {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const chunks: Record<string, Buffer> = {};
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    expect(png.readUInt32BE(at + 8 + length)).toBe(crc32(png.subarray(at + 4, at + 8 + length)));
    chunks[type] = data;
    at += 12 + length;
  }
  const header = chunks.IHDR as Buffer;
  const size = header.readUInt32BE(0);
  const raw = inflateSync(chunks.IDAT as Buffer);
  const pixel = (x: number, y: number) => [
    ...raw.subarray(y * (1 + size * 4) + 1 + x * 4, y * (1 + size * 4) + 5 + x * 4),
  ];
  return { size, header, chunks, pixel };
}

describe('trayIconPng', () => {
  it('computes the CRC-32 PNG uses', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it.each(Object.keys(TONE_COLOURS) as (keyof typeof TONE_COLOURS)[])(
    'draws a %s dot on a transparent ground',
    (tone) => {
      for (const size of [16, 32]) {
        const { header, chunks, pixel } = decode(trayIconPng(tone, size));
        expect(header.readUInt32BE(4)).toBe(size);
        expect([header[8], header[9]]).toEqual([8, 6]);
        expect(Object.keys(chunks)).toEqual(['IHDR', 'IDAT', 'IEND']);
        expect(pixel(size / 2, size / 2)).toEqual([...TONE_COLOURS[tone], 255]);
        expect(pixel(0, 0)[3]).toBe(0);
      }
    },
  );
});
