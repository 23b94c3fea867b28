import { extract } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { packFiles } from './tar.js';

async function unpack(
  archive: Buffer,
): Promise<{ name: string; type: string; mode: number; body: string }[]> {
  const entries: { name: string; type: string; mode: number; body: string }[] = [];
  const reader = extract();
  const done = (async () => {
    for await (const entry of reader) {
      const parts: Buffer[] = [];
      for await (const part of entry) parts.push(part as Buffer);
      const { name, type, mode } = entry.header;
      entries.push({ name, type: type ?? 'file', mode: mode ?? 0, body: Buffer.concat(parts).toString() });
    }
  })();
  reader.end(archive);
  await done;
  return entries;
}

describe('packFiles', () => {
  it('packs regular files that unpack to the same names and contents', async () => {
    const archive = await packFiles([
      { name: 'main.py', content: 'print("é")\n' },
      { name: 'lib/util.py', content: Buffer.from('X = 1\n') },
    ]);
    expect(archive.length % 512).toBe(0);
    expect(await unpack(archive)).toEqual([
      { name: 'main.py', type: 'file', mode: 0o644, body: 'print("é")\n' },
      { name: 'lib/util.py', type: 'file', mode: 0o644, body: 'X = 1\n' },
    ]);
  });

  it('packs an empty file', async () => {
    expect(await unpack(await packFiles([{ name: 'empty.txt', content: '' }]))).toMatchObject([
      { name: 'empty.txt', body: '' },
    ]);
  });

  it.each(['/etc/passwd', '../x', 'a/../../x', './x', 'a//b', '', 'a\\b', 'a\0b', 'a\nb', 'x'.repeat(256)])(
    'refuses the name %j (the last line of defence after job-files.ts)',
    async (name) => {
      await expect(packFiles([{ name, content: 'x' }])).rejects.toThrow(/Unsafe file name/);
    },
  );

  it('packs a long name (over the 100 bytes of a ustar name field) whole', async () => {
    const name = `${'d'.repeat(60)}/${'f'.repeat(120)}.txt`;
    expect(await unpack(await packFiles([{ name, content: 'x' }]))).toMatchObject([{ name, body: 'x' }]);
  });
});
