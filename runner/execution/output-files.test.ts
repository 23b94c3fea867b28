// The collector against archives made by the host's GNU tar (the images' tar, same version and
// flags as the stage script) and against forged ones: it must keep regular files only, and survive
// anything.
import { execFileSync } from 'node:child_process';
import {
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import type { OutputFile } from '../../shared/job.js';
import { type OutputFileCaps, OutputFilesCollector, outputFileName } from './output-files.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A workspace with an out/ directory built by `build`, archived as the stage script does. */
function gnuTar(build: (out: string) => void): Buffer {
  const workspace = mkdtempSync(join(tmpdir(), 'codeexec-out-'));
  dirs.push(workspace);
  const out = join(workspace, 'out');
  mkdirSync(out);
  build(out);
  return execFileSync('tar', ['-c', '-f', '-', '--format=gnu', '--sort=name', '-C', workspace, 'out'], {
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
}

async function collect(archive: Buffer, caps?: OutputFileCaps, chunkBytes = 1000): Promise<OutputFile[]> {
  const collector = new OutputFilesCollector(caps);
  for (let at = 0; at < archive.length; at += chunkBytes)
    collector.push(archive.subarray(at, at + chunkBytes));
  return collector.finish();
}

async function forged(
  entries: {
    name: string;
    type?: 'file' | 'symlink' | 'link' | 'directory';
    body?: string;
    linkname?: string;
  }[],
): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on('data', (chunk) => chunks.push(chunk as Buffer));
  const ended = new Promise<void>((resolve) => archive.on('end', () => resolve()));
  for (const entry of entries) {
    const { body = '', ...header } = entry;
    archive.entry({ type: 'file', ...header }, body);
  }
  archive.finalize();
  await ended;
  return Buffer.concat(chunks);
}

const text = (file: OutputFile | undefined) => Buffer.from(file?.content ?? '', 'base64').toString();
const caps: OutputFileCaps = { files: 64, file_bytes: 1024, total_bytes: 4096, archive_bytes: 1 << 20 };

describe('OutputFilesCollector', () => {
  it('keeps regular files, nested ones too, in name order, with their bytes', async () => {
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const archive = gnuTar((out) => {
      writeFileSync(join(out, 'b.txt'), 'bee\n');
      writeFileSync(join(out, 'a.bin'), binary);
      writeFileSync(join(out, 'empty'), '');
      mkdirSync(join(out, 'sub', 'deeper'), { recursive: true });
      writeFileSync(join(out, 'sub', 'deeper', 'c.txt'), 'see');
    });
    const files = await collect(archive, undefined, 7);
    expect(files.map((f) => f.name)).toEqual(['a.bin', 'b.txt', 'empty', 'sub/deeper/c.txt']);
    expect(Buffer.from(files[0]?.content ?? '', 'base64')).toEqual(binary);
    expect(files[1]).toEqual({
      name: 'b.txt',
      content: Buffer.from('bee\n').toString('base64'),
      size: 4,
      truncated: false,
    });
    expect(files[2]).toMatchObject({ size: 0, content: '', truncated: false });
  });

  it('skips symlinks (to host-looking paths too), hardlinks, fifos and directories', async () => {
    const archive = gnuTar((out) => {
      writeFileSync(join(out, 'real.txt'), 'real');
      symlinkSync('/etc/passwd', join(out, 'passwd'));
      symlinkSync('../../..', join(out, 'up'));
      linkSync(join(out, 'real.txt'), join(out, 's-hard.txt'));
      execFileSync('mkfifo', [join(out, 'fifo')]);
      mkdirSync(join(out, 'empty-dir'));
    });
    // GNU tar archives the first name of an inode (in name order) as the file, later ones as links.
    const files = await collect(archive);
    expect(files.map((f) => f.name)).toEqual(['real.txt']);
    expect(text(files[0])).toBe('real');
  });

  it('skips names with a newline, a control character or invalid UTF-8, keeps Unicode ones', async () => {
    const archive = gnuTar((out) => {
      writeFileSync(join(out, 'new\nline'), 'x');
      writeFileSync(join(out, 'esc\u001b'), 'x');
      writeFileSync(Buffer.from([...Buffer.from(`${out}/bad-`), 0xff, 0xfe]), 'x');
      writeFileSync(join(out, 'ünï €.txt'), 'ok');
    });
    expect((await collect(archive)).map((f) => f.name)).toEqual(['ünï €.txt']);
  });

  it('keeps a name longer than a ustar header holds (GNU long names)', async () => {
    const long = `${'d'.repeat(100)}/${'f'.repeat(140)}`;
    const archive = gnuTar((out) => {
      mkdirSync(join(out, 'd'.repeat(100)));
      writeFileSync(join(out, long), 'long');
    });
    expect((await collect(archive)).map((f) => f.name)).toEqual([long]);
  });

  it('cuts a file at file_bytes and all files at total_bytes, marking them truncated', async () => {
    const archive = gnuTar((out) => {
      for (const name of ['1', '2', '3', '4', '5']) writeFileSync(join(out, name), 'x'.repeat(1500));
    });
    const files = await collect(archive, caps);
    expect(files.map((f) => [f.name, Buffer.from(f.content, 'base64').length, f.size, f.truncated])).toEqual([
      ['1', 1024, 1500, true],
      ['2', 1024, 1500, true],
      ['3', 1024, 1500, true],
      ['4', 1024, 1500, true],
      ['5', 0, 1500, true],
    ]);
  });

  it('keeps at most `files` files', async () => {
    const archive = gnuTar((out) => {
      for (let i = 0; i < 10; i++) writeFileSync(join(out, `f${i}`), `${i}`);
    });
    const files = await collect(archive, { ...caps, files: 3 });
    expect(files.map((f) => f.name)).toEqual(['f0', 'f1', 'f2']);
  });

  it('reads no more than archive_bytes, and keeps what came of a file cut off', async () => {
    const archive = gnuTar((out) => {
      writeFileSync(join(out, 'a'), 'a'.repeat(600));
      writeFileSync(join(out, 'b'), 'b'.repeat(600));
    });
    // Header of out/ (512), of a (512), a's 600 bytes in two blocks (1024), header of b, 100 of b's.
    const files = await collect(archive, { ...caps, archive_bytes: 512 * 5 + 100 });
    expect(files.map((f) => [f.name, Buffer.from(f.content, 'base64').toString(), f.truncated])).toEqual([
      ['a', 'a'.repeat(600), false],
      ['b', 'b'.repeat(100), true],
    ]);
  });

  it('skips forged entries: escaping names, names outside out/, links, duplicates', async () => {
    const archive = await forged([
      { name: 'out/../../etc/passwd', body: 'x' },
      { name: '/etc/shadow', body: 'x' },
      { name: 'out//double', body: 'x' },
      { name: 'main.py', body: 'x' },
      { name: 'out/link', type: 'symlink', linkname: '/etc/passwd' },
      { name: 'out/hard', type: 'link', linkname: '/etc/passwd' },
      { name: 'out/ok', body: 'first' },
      { name: 'out/ok', body: 'second' },
    ]);
    const files = await collect(archive);
    expect(files.map((f) => [f.name, text(f)])).toEqual([['ok', 'first']]);
  });

  it('does not stall on a forged directory entry that claims a size', async () => {
    const archive = await forged([
      { name: 'out/dir/', body: 'x'.repeat(700) },
      { name: 'out/after', body: 'after' },
    ]);
    // Turn the first entry into a directory (typeflag '5') that still says it has 700 bytes.
    archive[156] = '5'.charCodeAt(0);
    archive.fill(' ', 148, 156);
    const sum = archive.subarray(0, 512).reduce((total, byte) => total + byte, 0);
    archive.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const started = performance.now();
    const files = await collect(archive);
    // Well under the collector's 2 s guard: the parse did not stall and get cut.
    expect(performance.now() - started).toBeLessThan(1000);
    expect(files.every((f) => f.name !== 'dir/')).toBe(true);
  });

  it('survives garbage, an empty stream and a cut header without hanging', async () => {
    expect(await collect(Buffer.alloc(0))).toEqual([]);
    expect(await collect(Buffer.from('this is not a tar archive at all'.repeat(100)))).toEqual([]);
    const archive = await forged([{ name: 'out/x', body: 'x' }]);
    expect(await collect(archive.subarray(0, 300))).toEqual([]);
  });
});

describe('outputFileName', () => {
  it.each<[string, string | null]>([
    ['out/a.txt', 'a.txt'],
    ['out/sub/b', 'sub/b'],
    ['out/', null],
    ['out', null],
    ['other/a', null],
    ['out/../x', null],
    ['out/a\nb', null],
    [Buffer.from('out/é').toString('latin1'), 'é'],
    [Buffer.from([...Buffer.from('out/'), 0xc3]).toString('latin1'), null],
  ])('%j → %j', (raw, name) => {
    expect(outputFileName(raw)).toBe(name);
  });
});

describe('the fixtures', () => {
  it('are what the tests think they are (GNU tar emits a link entry for a hardlink)', () => {
    const archive = gnuTar((out) => {
      writeFileSync(join(out, 'x'), 'x');
      linkSync(join(out, 'x'), join(out, 'y'));
    });
    const workspace = mkdtempSync(join(tmpdir(), 'codeexec-out-check-'));
    dirs.push(workspace);
    execFileSync('tar', ['-x', '-f', '-', '-C', workspace], { input: archive });
    expect(statSync(join(workspace, 'out', 'y')).nlink).toBe(2);
    expect(readFileSync(join(workspace, 'out', 'y'), 'utf8')).toBe('x');
  });
});
