// The stage script is run here with the host's own sh, perl, GNU head and GNU tar (Debian, like
// the images), so the unpack-then-exec contract and the waiter's end record are checked without
// Docker.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type Limits, MAX_LIMITS } from '../../shared/limits.js';
import {
  containerUlimits,
  newStageTrailer,
  PROGRAM_PID_FILE,
  SETUP_FAILED_EXIT,
  stageArgv,
  stageUlimits,
  WAITER_SCRIPT,
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

/** Splits the stage's raw stdout at the trailer: the program's output, the end record, the rest. */
function trailerOf(raw: Buffer, marker: string): { program: string; record: string | null; rest: Buffer } {
  const at = raw.indexOf(Buffer.from(marker));
  if (at < 0) return { program: raw.toString('utf8'), record: null, rest: Buffer.alloc(0) };
  const after = raw.subarray(at + Buffer.byteLength(marker));
  const newline = after.indexOf(0x0a);
  return {
    program: raw.subarray(0, at).toString('utf8'),
    record: after.subarray(0, newline).toString('latin1'),
    rest: after.subarray(newline + 1),
  };
}

describe('stageArgv', () => {
  const ulimits = { cpuSoftSeconds: 5, cpuHardSeconds: 6, fsizeBlocks: 20, nofile: 64 };
  const trailer = newStageTrailer(0);
  const stage = (program: string[], input: Buffer = Buffer.alloc(0), tarBytes = 0) => {
    const out = run(stageArgv(tarBytes, ulimits, program, trailer), input);
    return { ...out, ...trailerOf(out.raw, trailer.marker) };
  };

  it('passes the program as positional parameters, never inside a script', () => {
    const argv = stageArgv(0, ulimits, ['python3', 'main.py', '$(id)', '; rm -rf /'], trailer, true);
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(argv.slice(3)).toEqual([
      'sh',
      '0',
      '5',
      '6',
      '20',
      '64',
      WAITER_SCRIPT,
      trailer.marker,
      '0',
      PROGRAM_PID_FILE,
      'python3',
      'main.py',
      '$(id)',
      '; rm -rf /',
    ]);
    expect(stageArgv(0, ulimits, ['x'], trailer).at(-2)).toBe('');
  });

  it('refuses non-integer parameters, an empty program and a malformed marker', () => {
    expect(() => stageArgv(-1, ulimits, ['x'], trailer)).toThrow();
    expect(() => stageArgv(1.5, ulimits, ['x'], trailer)).toThrow();
    expect(() => stageArgv(0, ulimits, [], trailer)).toThrow();
    expect(() => stageArgv(0, ulimits, ['x'], { marker: 'short', archiveBytes: 1 })).toThrow(/marker/);
    expect(() =>
      stageArgv(0, ulimits, ['x'], { marker: '\u001e$(id)-0123456789abcdef', archiveBytes: 1 }),
    ).toThrow(/marker/);
    expect(() => stageArgv(0, ulimits, ['x'], { ...newStageTrailer(1), archiveBytes: -1 })).toThrow();
  });

  it('unpacks the files, then the program reads exactly the rest of stdin', async () => {
    const files = await packFiles([{ name: 'main.txt', content: 'the file\n' }]);
    const stdin = Buffer.from('line 1\nline 2 with no newline');
    const out = stage(['cat'], Buffer.concat([files, stdin]), files.length);
    expect(out).toMatchObject({
      status: 0,
      program: stdin.toString(),
      record: expect.stringMatching(/^x 0 \d+ -$/),
      stderr: '',
    });
    expect(out.rest.length).toBe(0);
    expect(readFileSync(join(out.dir, 'main.txt'), 'utf8')).toBe('the file\n');
  });

  it('gives the program an empty stdin when there is none after the files', async () => {
    const files = await packFiles([{ name: 'a', content: 'x' }]);
    expect(stage(['cat'], files, files.length)).toMatchObject({ status: 0, program: '' });
  });

  it('hands arguments over verbatim', () => {
    const args = ['a b', '$HOME', '"q"', '*', '', '--', '-e'];
    expect(stage(['printf', '[%s]', ...args]).program).toBe('[a b][$HOME]["q"][*][][--][-e]');
  });

  it('lowers the rlimits before exec', () => {
    const probe = ['sh', '-c', 'ulimit -S -t; ulimit -H -t; ulimit -f; ulimit -n'];
    expect(stage(probe).program).toBe('5\n6\n20\n64\n');
  });

  it('exits 125 when the files cannot be unpacked', () => {
    const out = stage(['echo', 'never'], Buffer.alloc(1024, 7), 1024);
    expect(out.status).toBe(SETUP_FAILED_EXIT);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(/codeexec: could not unpack the files/);
  });

  it.each([
    ['exit(137)', 'exit 137', 137, 'x 137'],
    ['exit(139)', 'exit 139', 139, 'x 139'],
    ['a failing exit', 'exit 3', 3, 'x 3'],
    ['SIGSEGV', 'kill -SEGV $$', 139, 's 11'],
    ['SIGKILL', 'kill -KILL $$', 137, 's 9'],
  ])(
    'tells %s from the others: the record says exited or killed, the status is 128+n as before',
    (_name, script, status, record) => {
      const out = stage(['sh', '-c', script]);
      expect(out.status).toBe(status);
      expect(out.record).toMatch(new RegExp(`^${record} \\d+ -$`));
    },
  );

  it("reports the program's CPU time, its waited children's included", () => {
    const spin = 'i=0; while [ $i -lt 300000 ]; do i=$((i + 1)); done';
    const out = stage(['sh', '-c', `sh -c '${spin}'; ${spin}`]);
    const cpuMs = Number(out.record?.split(' ')[2]);
    expect(cpuMs).toBeGreaterThan(100);
    expect(cpuMs).toBeLessThan(60_000);
  });

  it('says 127 when the program cannot be run', () => {
    const out = stage(['/nonexistent/program']);
    expect(out).toMatchObject({ status: 127, record: expect.stringMatching(/^x 127 \d+ -$/) });
    expect(out.stderr).toMatch(/codeexec: cannot run \/nonexistent\/program/);
  });

  it('runs the program in its own process group, its signals at their defaults, first to go on OOM', () => {
    const script = 'cut -d" " -f1,5 /proc/$$/stat; grep SigIgn /proc/$$/status; cat /proc/$$/oom_score_adj';
    const [ids, ignored, oomScore] = stage(['sh', '-c', script]).program.trim().split('\n');
    const [pid, group] = ids?.split(' ') ?? [];
    expect(group).toBe(pid);
    expect(ignored).toMatch(/^SigIgn:\s+0+$/);
    expect(oomScore).toBe('500');
  });

  it('records the pid for signals when asked, after emptying what a previous run left', () => {
    const file = PROGRAM_PID_FILE;
    const out = run(
      stageArgv(0, ulimits, ['sh', '-c', `cat ${file}; echo $$`], trailer, true),
      Buffer.alloc(0),
    );
    const [recorded, own] = trailerOf(out.raw, trailer.marker).program.split('\n');
    expect(recorded).toBe(own);
  });

  it('leaves what background processes print after the program ended after the record', () => {
    const out = stage(['sh', '-c', '(sleep 0.3; echo late) & echo early']);
    expect(out).toMatchObject({ program: 'early\n', record: expect.stringMatching(/^x 0 \d+ -$/) });
    expect(out.rest.toString()).toBe('late\n');
  });
});

describe('stageArgv with output-file collection', () => {
  const ulimits = { cpuSoftSeconds: 5, cpuHardSeconds: 6, fsizeBlocks: 2048, nofile: 64 };
  const trailer = newStageTrailer(1 << 20);
  const stage = (program: string[], input: Buffer = Buffer.alloc(0), tarBytes = 0, spec = trailer) => {
    const out = run(stageArgv(tarBytes, ulimits, program, spec), input);
    return { ...out, ...trailerOf(out.raw, spec.marker) };
  };
  const listing = (archive: Buffer) =>
    spawnSync('tar', ['-t', '-v', '-f', '-'], { input: archive, encoding: 'utf8' }).stdout;

  it('sends only the end record when the program leaves no out/', () => {
    expect(stage(['sh', '-c', 'echo hi; exit 3'])).toMatchObject({
      status: 3,
      program: 'hi\n',
      record: expect.stringMatching(/^x 3 \d+ -$/),
      rest: Buffer.alloc(0),
    });
  });

  it('sends the record then a tar of out/ after the output, and keeps the exit status', () => {
    const out = stage(['sh', '-c', 'mkdir out && echo data > out/f.txt && echo hi; exit 4']);
    expect(out).toMatchObject({ status: 4, program: 'hi\n', record: expect.stringMatching(/^x 4 \d+ f$/) });
    expect(listing(out.rest)).toMatch(/ out\/f\.txt\n/);
  });

  it('collects the files of a program killed by a signal, and says so', () => {
    const out = stage(['sh', '-c', 'mkdir out; kill -SEGV $$']);
    expect(out).toMatchObject({ status: 139, record: expect.stringMatching(/^s 11 \d+ f$/) });
  });

  it('archives a symlinked out/ as the link only, never what it points at', () => {
    const out = stage(['ln', '-s', '/etc', 'out']);
    expect(listing(out.rest).trim().split('\n')).toEqual([expect.stringMatching(/^l.* out -> \/etc$/)]);
  });

  it('sends at most archiveBytes of tar', () => {
    const out = stage(['sh', '-c', 'mkdir out && head -c 100000 /dev/zero > out/big'], Buffer.alloc(0), 0, {
      ...trailer,
      archiveBytes: 1000,
    });
    expect(out.rest.length).toBe(1000);
  });

  it('sends no tar at all when archiveBytes is 0 (the compile stage)', () => {
    const none = newStageTrailer(0);
    const out = stage(['mkdir', 'out'], Buffer.alloc(0), 0, none);
    expect(out).toMatchObject({
      status: 0,
      record: expect.stringMatching(/^x 0 \d+ -$/),
      rest: Buffer.alloc(0),
    });
  });

  it('still hands the program the stdin after the files', async () => {
    const files = await packFiles([{ name: 'main.txt', content: 'f' }]);
    const out = stage(['cat'], Buffer.concat([files, Buffer.from('in')]), files.length);
    expect(out).toMatchObject({ status: 0, program: 'in' });
  });

  it('unpacks a name longer than ustar holds', async () => {
    const name = `${'d'.repeat(60)}/${'f'.repeat(120)}.txt`;
    const files = await packFiles([{ name, content: 'long' }]);
    expect(stage(['cat', name], files, files.length).program).toBe('long');
  });
});
