// The stage script is run here with the host's own sh, GNU head and GNU tar (Debian, like the
// images), so the unpack-then-exec contract is checked without Docker.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type Limits, MAX_LIMITS } from '../../shared/limits.js';
import {
  containerUlimits,
  newFileCollection,
  SETUP_FAILED_EXIT,
  stageArgv,
  stageUlimits,
} from './stage-command.js';
import { packFiles } from './tar.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function run(
  argv: string[],
  input: Buffer,
): { status: number | null; stdout: string; stderr: string; dir: string; raw: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'codeexec-stage-'));
  dirs.push(dir);
  const [file, ...args] = argv;
  const result = spawnSync(file ?? 'sh', args, { cwd: dir, input });
  const stdout = result.stdout.toString('utf8');
  return { status: result.status, stdout, stderr: result.stderr.toString('utf8'), dir, raw: result.stdout };
}

describe('stageUlimits', () => {
  it('maps the default limits', () => {
    expect(stageUlimits(DEFAULT_LIMITS, MAX_LIMITS)).toEqual({
      cpuSoftSeconds: 10,
      cpuHardSeconds: 11,
      fsizeBlocks: (16 * 1024 * 1024) / 512,
      nofile: 256,
    });
  });

  it('rounds CPU time and file size up', () => {
    const limits: Limits = { ...DEFAULT_LIMITS, cpu_time_ms: 1001, file_size_bytes: 513 };
    expect(stageUlimits(limits, MAX_LIMITS)).toMatchObject({
      cpuSoftSeconds: 2,
      cpuHardSeconds: 3,
      fsizeBlocks: 2,
    });
  });

  it('never goes above the container ceilings, and keeps soft below hard at the maximum', () => {
    const ceiling = containerUlimits(MAX_LIMITS);
    expect(ceiling.cpuSeconds).toBe(61);
    const atMax = stageUlimits(MAX_LIMITS, MAX_LIMITS);
    expect(atMax).toEqual({
      cpuSoftSeconds: 60,
      cpuHardSeconds: 61,
      fsizeBlocks: ceiling.fsizeBytes / 512,
      nofile: 1024,
    });
    const tooHigh: Limits = {
      ...MAX_LIMITS,
      cpu_time_ms: 999_000,
      file_size_bytes: 2 ** 40,
      open_files: 99_999,
    };
    expect(stageUlimits(tooHigh, MAX_LIMITS)).toEqual(atMax);
  });
});

describe('stageArgv', () => {
  const ulimits = { cpuSoftSeconds: 5, cpuHardSeconds: 6, fsizeBlocks: 20, nofile: 64 };

  it('passes the program as positional parameters, never inside the script', () => {
    const argv = stageArgv(0, ulimits, ['python3', 'main.py', '$(id)', '; rm -rf /']);
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(argv.slice(3)).toEqual([
      'sh',
      '0',
      '5',
      '6',
      '20',
      '64',
      '',
      '0',
      'python3',
      'main.py',
      '$(id)',
      '; rm -rf /',
    ]);
  });

  it('refuses non-integer parameters, an empty program and a malformed marker', () => {
    expect(() => stageArgv(-1, ulimits, ['x'])).toThrow();
    expect(() => stageArgv(1.5, ulimits, ['x'])).toThrow();
    expect(() => stageArgv(0, ulimits, [])).toThrow();
    expect(() => stageArgv(0, ulimits, ['x'], { marker: 'short', archiveBytes: 1 })).toThrow(/marker/);
    expect(() =>
      stageArgv(0, ulimits, ['x'], { marker: '\u001e$(id)-0123456789abcdef', archiveBytes: 1 }),
    ).toThrow(/marker/);
    expect(() => stageArgv(0, ulimits, ['x'], { ...newFileCollection(1), archiveBytes: -1 })).toThrow();
  });

  it('unpacks the files, then the program reads exactly the rest of stdin', async () => {
    const files = await packFiles([{ name: 'main.txt', content: 'the file\n' }]);
    const stdin = Buffer.from('line 1\nline 2 with no newline');
    const out = run(stageArgv(files.length, ulimits, ['cat']), Buffer.concat([files, stdin]));
    expect(out).toMatchObject({ status: 0, stdout: stdin.toString(), stderr: '' });
    expect(readFileSync(join(out.dir, 'main.txt'), 'utf8')).toBe('the file\n');
  });

  it('gives the program an empty stdin when there is none after the files', async () => {
    const files = await packFiles([{ name: 'a', content: 'x' }]);
    expect(run(stageArgv(files.length, ulimits, ['cat']), files)).toMatchObject({ status: 0, stdout: '' });
  });

  it('hands arguments over verbatim', () => {
    const args = ['a b', '$HOME', '"q"', '*', ''];
    const out = run(stageArgv(0, ulimits, ['printf', '[%s]', ...args]), Buffer.alloc(0));
    expect(out.stdout).toBe('[a b][$HOME]["q"][*][]');
  });

  it('lowers the rlimits before exec', () => {
    const probe = ['sh', '-c', 'ulimit -S -t; ulimit -H -t; ulimit -f; ulimit -n'];
    expect(run(stageArgv(0, ulimits, probe), Buffer.alloc(0)).stdout).toBe('5\n6\n20\n64\n');
  });

  it('exits 125 when the files cannot be unpacked', () => {
    const out = run(stageArgv(1024, ulimits, ['echo', 'never']), Buffer.alloc(1024, 7));
    expect(out.status).toBe(SETUP_FAILED_EXIT);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(/codeexec: could not unpack the files/);
  });
});

describe('stageArgv with output-file collection', () => {
  const ulimits = { cpuSoftSeconds: 5, cpuHardSeconds: 6, fsizeBlocks: 2048, nofile: 64 };
  const collect = newFileCollection(1 << 20);
  const marker = Buffer.from(collect.marker);

  it('sends nothing extra when the program leaves no out/', () => {
    const out = run(stageArgv(0, ulimits, ['sh', '-c', 'echo hi; exit 3'], collect), Buffer.alloc(0));
    expect(out).toMatchObject({ status: 3, stdout: 'hi\n' });
  });

  it('sends the marker then a tar of out/ after the output, and keeps the exit status', () => {
    const program = ['sh', '-c', 'mkdir out && echo data > out/f.txt && echo hi; exit 4'];
    const out = run(stageArgv(0, ulimits, program, collect), Buffer.alloc(0));
    expect(out.status).toBe(4);
    const at = out.raw.indexOf(marker);
    expect(out.raw.subarray(0, at).toString()).toBe('hi\n');
    const archive = out.raw.subarray(at + marker.length);
    const listing = spawnSync('tar', ['-t', '-v', '-f', '-'], { input: archive, encoding: 'utf8' });
    expect(listing.stdout).toMatch(/ out\/f\.txt\n/);
  });

  it('reports a signal death as 128+n, as exec would', () => {
    const out = run(
      stageArgv(0, ulimits, ['sh', '-c', 'mkdir out; kill -SEGV $$'], collect),
      Buffer.alloc(0),
    );
    expect(out.status).toBe(139);
    expect(out.raw.includes(marker)).toBe(true);
  });

  it('archives a symlinked out/ as the link only, never what it points at', () => {
    const out = run(stageArgv(0, ulimits, ['ln', '-s', '/etc', 'out'], collect), Buffer.alloc(0));
    const archive = out.raw.subarray(out.raw.indexOf(marker) + marker.length);
    const listing = spawnSync('tar', ['-t', '-v', '-f', '-'], { input: archive, encoding: 'utf8' });
    expect(listing.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^l.* out -> \/etc$/)]);
  });

  it('sends at most archiveBytes of tar', () => {
    const small = { ...collect, archiveBytes: 1000 };
    const program = ['sh', '-c', 'mkdir out && head -c 100000 /dev/zero > out/big'];
    const out = run(stageArgv(0, ulimits, program, small), Buffer.alloc(0));
    expect(out.raw.length - out.raw.indexOf(marker) - marker.length).toBe(1000);
  });

  it('still hands the program the stdin after the files', async () => {
    const files = await packFiles([{ name: 'main.txt', content: 'f' }]);
    const out = run(
      stageArgv(files.length, ulimits, ['cat'], collect),
      Buffer.concat([files, Buffer.from('in')]),
    );
    expect(out).toMatchObject({ status: 0, stdout: 'in' });
  });

  it('unpacks a name longer than ustar holds', async () => {
    const name = `${'d'.repeat(60)}/${'f'.repeat(120)}.txt`;
    const files = await packFiles([{ name, content: 'long' }]);
    const out = run(stageArgv(files.length, ulimits, ['cat', name], collect), files);
    expect(out.stdout).toBe('long');
  });
});
