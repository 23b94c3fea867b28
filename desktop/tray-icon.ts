// The tray icon: a round dot in the colour of the donor's tone (green donating, amber waiting,
// grey paused by the owner, red a problem), drawn here as a PNG so the repository holds no binary
// images and each tone is one table row. Anti-aliased by coverage; RGBA, no compression tricks.
import { deflateSync } from 'node:zlib';
import type { Tone } from './status-summary.js';

export const TONE_COLOURS: Record<Tone, [number, number, number]> = {
  donating: [0x1f, 0x9d, 0x55],
  waiting: [0xd9, 0x9a, 0x06],
  owner: [0x6b, 0x72, 0x80],
  problem: [0xd6, 0x45, 0x45],
  stopped: [0x9c, 0xa3, 0xaf],
};

/** A `size`×`size` PNG: a dot in the tone's colour on a transparent ground. */
export function trayIconPng(tone: Tone, size: number): Buffer {
  const [r, g, b] = TONE_COLOURS[tone];
  const centre = size / 2;
  const radius = size * 0.4;
  const ring = Math.max(1, size / 16);
  // Each row: a filter byte (0: none), then RGBA per pixel.
  const raw = Buffer.alloc(size * (1 + size * 4));
  for (let y = 0; y < size; y++) {
    const row = y * (1 + size * 4);
    for (let x = 0; x < size; x++) {
      const coverage = discCoverage(x, y, centre, radius);
      // A darker rim keeps the dot visible on a light and on a dark panel.
      const rim = coverage - discCoverage(x, y, centre, radius - ring);
      const shade = 1 - 0.35 * Math.min(1, rim / Math.max(coverage, 1e-9));
      const at = row + 1 + x * 4;
      raw[at] = Math.round(r * shade);
      raw[at + 1] = Math.round(g * shade);
      raw[at + 2] = Math.round(b * shade);
      raw[at + 3] = Math.round(255 * coverage);
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // colour type: RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The share of pixel (x, y) inside the disc, from a 4×4 grid of samples. */
function discCoverage(x: number, y: number, centre: number, radius: number): number {
  let inside = 0;
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      const dx = x + (i + 0.5) / 4 - centre;
      const dy = y + (j + 0.5) / 4 - centre;
      if (dx * dx + dy * dy <= radius * radius) inside++;
    }
  }
  return inside / 16;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** PNG's CRC-32 (ISO 3309). */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) c = (CRC_TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
