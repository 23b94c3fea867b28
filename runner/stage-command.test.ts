// The stage script is run here with the host's own sh, GNU head and GNU tar (Debian, like the
// images), so the unpack-then-exec contract is checked without Docker.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type Limits, MAX_LIMITS } from '../shared/limits.js';
import { containerUlimits, SETUP_FAILED_EXIT, stageArgv, stageUlimits } from './stage-command.js';
import { packFiles } from './tar.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function run(
  argv: string[],
  input: Buffer,
): { status: number | null; stdout: string; stderr: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'codeexec-stage-'));
  dirs.push(dir);
  const [file, ...args] = argv;
  const result = spawnSync(file ?? 'sh', args, { cwd: dir, input, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, dir };
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
      'python3',
      'main.py',
      '$(id)',
      '; rm -rf /',
    ]);
  });

  it('refuses non-integer parameters and an empty program', () => {
    expect(() => stageArgv(-1, ulimits, ['x'])).toThrow();
    expect(() => stageArgv(1.5, ulimits, ['x'])).toThrow();
    expect(() => stageArgv(0, ulimits, [])).toThrow();
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
