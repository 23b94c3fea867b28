// executeJob against the real engine, one fresh hardened container per case: every way a stage
// ends, per-stage limits, files in and out. A shell "compiled language" whose compile step is a
// script sent with the job lets each case decide what the compile stage does.
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import type { FileInput, RunResult } from '../../shared/job.js';
import { findLanguage, type LanguageSpec } from '../../shared/languages.js';
import { type Limits, MAX_LIMITS, resolveLimits } from '../../shared/limits.js';
import { DockerSandbox } from '../docker/docker-sandbox.js';
import { executeJob, type JobSpec, type OutputChunk } from './execute-job.js';
import { containerUlimits } from './stage-command.js';

const MiB = 1024 * 1024;
const LABEL = 'org.codeexec.runner';
const owner = `execute-job-test-${process.pid}`;
const docker = new DockerSandbox();
/** Containers are removed in the background (as the pool does) and awaited at the end. */
const removals: Promise<void>[] = [];

const bash = findLanguage('bash') as LanguageSpec;
const python = findLanguage('python') as LanguageSpec;
const cLanguage = findLanguage('c') as LanguageSpec;
/** A compiled language made of shell: its compile step is the job's own compile.sh. */
const shellCompiled: LanguageSpec = {
  ...bash,
  name: 'shell-compiled',
  aliases: [],
  compile: ['bash', 'compile.sh'],
};

afterAll(async () => {
  await Promise.all(removals);
  for (const id of await docker.listByLabel(LABEL, owner)) await docker.remove(id);
  expect(await docker.listByLabel(LABEL, owner)).toEqual([]);
});

interface Case {
  language?: LanguageSpec;
  code: string;
  files?: FileInput[];
  stdin?: string;
  limits?: Partial<Limits>;
  compile_limits?: Partial<Limits>;
  /** Called once the program's first output arrives (cancel tests). */
  onFirstOutput?: (abort: AbortController, containerId: string) => void;
}

async function run(c: Case): Promise<{ result: RunResult; chunks: OutputChunk[] }> {
  const language = c.language ?? bash;
  const limits = resolveLimits(c.limits, MAX_LIMITS).limits;
  const containerId = await docker.createAndStart({
    image: language.image,
    labels: { [LABEL]: owner },
    memoryBytes: limits.memory_bytes,
    pids: limits.pids,
    cpus: 1,
    ulimits: containerUlimits(MAX_LIMITS),
    workspaceBytes: 64 * MiB,
    tmpBytes: 256 * MiB,
    shmBytes: 64 * MiB,
  });
  const abort = new AbortController();
  const chunks: OutputChunk[] = [];
  const job: JobSpec = {
    id: 'job',
    lang: language.name,
    code: c.code,
    stdin: c.stdin ?? null,
    args: [],
    files: c.files ?? [],
    limits: c.limits ?? null,
    compile_limits: c.compile_limits ?? null,
  };
  try {
    const result = await executeJob(job, {
      docker,
      containerId,
      language,
      limits,
      maxLimits: MAX_LIMITS,
      cpus: 1,
      signal: abort.signal,
      onOutput: (chunk) => {
        if (chunks.length === 0) c.onFirstOutput?.(abort, containerId);
        chunks.push(chunk);
      },
    });
    return { result, chunks };
  } finally {
    removals.push(docker.remove(containerId));
  }
}

const compileScript = (script: string): FileInput => ({
  name: 'compile.sh',
  content: script,
  encoding: 'utf8',
});

describe('executeJob: how a stage ends, on the real engine', () => {
  it.each<[string, Case, Partial<RunResult>]>([
    ['exited 0', { code: 'echo hi' }, { reason: 'exited', exit_code: 0, signal: null, stdout: 'hi\n' }],
    ['exited 3', { code: 'echo oops >&2; exit 3' }, { reason: 'exited', exit_code: 3, stderr: 'oops\n' }],
    [
      'wall_time',
      { code: 'echo start; sleep 30', limits: { wall_time_ms: 1000 } },
      { reason: 'wall_time', exit_code: null, signal: 'SIGKILL', stdout: 'start\n' },
    ],
    [
      'cpu_time',
      { code: 'while :; do :; done', limits: { cpu_time_ms: 1000 } },
      { reason: 'cpu_time', exit_code: 152, signal: 'SIGXCPU' },
    ],
    [
      'memory',
      {
        language: python,
        code: 'a = []\nwhile True: a.append(bytearray(4 * 1024 * 1024))',
        limits: { memory_bytes: 48 * MiB },
      },
      { reason: 'memory', exit_code: 137, signal: 'SIGKILL' },
    ],
    [
      'output_limit',
      { code: 'yes 0123456789', limits: { output_bytes: 5000 } },
      { reason: 'output_limit', truncated: true, stdout: '0123456789\n'.repeat(500).slice(0, 5000) },
    ],
    ['signal SIGSEGV', { code: 'kill -SEGV $$' }, { reason: 'signal', exit_code: 139, signal: 'SIGSEGV' }],
    [
      'cpu_time with SIGXCPU ignored: SIGKILL at the hard limit',
      { code: 'trap "" XCPU; while :; do :; done', limits: { cpu_time_ms: 1000 } },
      { reason: 'cpu_time', exit_code: 137, signal: 'SIGKILL' },
    ],
    [
      'exit(137) from python is an exit, not a SIGKILL',
      { language: python, code: 'import os\nos._exit(137)' },
      { reason: 'exited', exit_code: 137, signal: null },
    ],
    [
      'exit(139) from python is an exit, not a SIGSEGV',
      { language: python, code: 'import sys\nsys.exit(139)' },
      { reason: 'exited', exit_code: 139, signal: null },
    ],
    [
      'exit(137) from C',
      { language: cLanguage, code: '#include <stdlib.h>\nint main(void) { exit(137); }\n' },
      { reason: 'exited', exit_code: 137, signal: null },
    ],
    [
      'a real segfault in C',
      { language: cLanguage, code: 'int main(void) { volatile int *p = 0; return *p; }\n' },
      { reason: 'signal', exit_code: 139, signal: 'SIGSEGV' },
    ],
    [
      'SIGKILL a python program sends itself (not OOM, not the CPU limit)',
      { language: python, code: 'import os\nos.kill(os.getpid(), 9)' },
      { reason: 'signal', exit_code: 137, signal: 'SIGKILL' },
    ],
    [
      'signal SIGXFSZ (the file-size limit)',
      { code: 'exec head -c 2000000 /dev/zero > big', limits: { file_size_bytes: MiB } },
      { reason: 'signal', exit_code: 153, signal: 'SIGXFSZ' },
    ],
    [
      'compile_failed (the compiler exits non-zero; the program never runs)',
      { language: shellCompiled, code: 'echo ran', files: [compileScript('echo bad code >&2; exit 2')] },
      { reason: 'compile_failed', exit_code: 2, stderr: 'bad code\n', wall_ms: 0 },
    ],
  ])('%s', async (_name, spec, expected) => {
    const { result } = await run(spec);
    expect(result).toMatchObject(expected);
    // The waiter measured the CPU time of any program that ended by itself; not of a killed stage.
    if (['wall_time', 'output_limit'].includes(result.reason)) expect(result.cpu_ms).toBeNull();
    else if (result.reason !== 'compile_failed') expect(result.cpu_ms).toEqual(expect.any(Number));
  });

  it('reports the CPU time each stage used', async () => {
    const spin = 'i=0; while [ $i -lt 200000 ]; do i=$((i + 1)); done';
    const { result } = await run({ language: shellCompiled, code: spin, files: [compileScript(spin)] });
    expect(result.compile?.cpu_ms).toBeGreaterThan(100);
    expect(result.cpu_ms).toBeGreaterThan(100);
    const cpu = await run({ code: 'while :; do :; done', limits: { cpu_time_ms: 1000 } });
    // About the 1 s limit: the kernel counts in ticks, times() the precise run time (end-reason.ts).
    expect(cpu.result.cpu_ms).toBeGreaterThan(500);
    expect(cpu.result.cpu_ms).toBeLessThan(1500);
  });

  it('cancelled: the container is killed mid-run, with the output so far', async () => {
    const { result } = await run({
      code: 'echo first; sleep 30',
      onFirstOutput: (abort) => abort.abort(),
    });
    expect(result).toMatchObject({ reason: 'cancelled', stdout: 'first\n', exit_code: null });
    expect(result.files).toBeUndefined();
  });

  it.each<[string, Partial<Limits>, string, string]>([
    ['cpu_time', { cpu_time_ms: 1000 }, 'while :; do :; done', 'cpu_time'],
    ['wall_time', { wall_time_ms: 1000 }, 'sleep 30', 'wall_time'],
    ['output_limit', { output_bytes: 100 }, 'yes', 'output_limit'],
  ])(
    'compile_failed when the compile stage hits its own %s',
    async (_name, compileLimits, script, reason) => {
      const { result } = await run({
        language: shellCompiled,
        code: 'echo ran',
        files: [compileScript(script)],
        compile_limits: compileLimits,
      });
      expect(result.reason).toBe('compile_failed');
      expect(result.compile?.reason).toBe(reason);
      expect(result.stdout).not.toContain('ran');
    },
  );

  it('gives each stage its own memory, pids and rlimits (docker update between stages)', async () => {
    const probe = [
      'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max',
      'ulimit -t; ulimit -f; ulimit -n',
    ].join('\n');
    const { result } = await run({
      language: shellCompiled,
      code: probe,
      files: [compileScript(probe)],
      limits: {
        memory_bytes: 96 * MiB,
        pids: 40,
        cpu_time_ms: 2000,
        file_size_bytes: 512 * 1024,
        open_files: 64,
      },
    });
    // Compile stage: DEFAULT_COMPILE_LIMITS (512 MiB, 256 pids, 30 s CPU, 64 MiB files, 1024 fds).
    // bash's `ulimit -f` counts 1024-byte blocks.
    expect(result.compile?.stdout).toBe(`${512 * MiB}\n256\n30\n${(64 * MiB) / 1024}\n1024\n`);
    expect(result.stdout).toBe(`${96 * MiB}\n40\n2\n512\n64\n`);
  });

  it('ends the run stage as memory when the compile stage left more than its memory limit', async () => {
    const { result } = await run({
      language: shellCompiled,
      code: 'echo ran',
      files: [compileScript('head -c 60000000 /dev/zero > /tmp/fill')],
      limits: { memory_bytes: 32 * MiB },
    });
    expect(result).toMatchObject({ reason: 'memory', exit_code: null, wall_ms: 0 });
    expect(result.stderr).toMatch(
      /the compile stage left more in the sandbox than the run stage's memory_bytes/,
    );
    expect(result.compile?.reason).toBe('exited');
  });

  it('fails (sandbox_failed upstream) when the container vanishes under the job', async () => {
    await expect(
      run({
        code: 'echo up; sleep 30',
        onFirstOutput: (_abort, id) => execFileSync('docker', ['rm', '-f', id], { stdio: 'ignore' }),
      }),
    ).rejects.toThrow();
  });
});

describe('executeJob: files in and out', () => {
  it('writes the extra files (utf8, base64, nested) before the program runs', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const { result } = await run({
      code: 'cat lib/greeting.txt; od -An -tx1 data.bin | tr -d " \\n" | head -c 16; echo; ls -l lib | head -1',
      files: [
        { name: 'lib/greeting.txt', content: 'hello from a file\n', encoding: 'utf8' },
        { name: 'data.bin', content: bytes.toString('base64'), encoding: 'base64' },
      ],
    });
    expect(result.stdout).toMatch(/^hello from a file\n0001020304050607\ntotal/);
  });

  it('brings back regular files from out/, skipping links and odd names', async () => {
    const { result, chunks } = await run({
      code: [
        'mkdir -p out/sub',
        'printf "plain" > out/a.txt',
        'head -c 256 /dev/urandom > out/sub/random.bin',
        'ln -s /etc/passwd out/passwd',
        'ln -s ../../.. out/up',
        'ln out/a.txt out/b-hard.txt',
        'mkfifo out/fifo',
        'printf x > "out/new',
        'line"',
        'echo done',
      ].join('\n'),
    });
    expect(result).toMatchObject({ reason: 'exited', exit_code: 0, stdout: 'done\n' });
    // The marker and the tar never reach the program's output, live or collected.
    expect(chunks.map((c) => c.data).join('')).toBe('done\n');
    // a.txt and b-hard.txt are one inode: GNU tar archives the first name (in order) as the file
    // and the second as a hardlink entry, which is skipped.
    expect(result.files?.map((f) => f.name)).toEqual(['a.txt', 'sub/random.bin']);
    expect(result.files?.[0]).toEqual({
      name: 'a.txt',
      content: Buffer.from('plain').toString('base64'),
      size: 5,
      truncated: false,
    });
    expect(Buffer.from(result.files?.[1]?.content ?? '', 'base64')).toHaveLength(256);
  });

  it('cuts a large output file and marks it', async () => {
    const { result } = await run({ code: 'mkdir out; head -c 3000000 /dev/zero > out/big' });
    expect(result.files).toEqual([
      { name: 'big', content: Buffer.alloc(MiB).toString('base64'), size: 3_000_000, truncated: true },
    ]);
  });

  it('collects after a signal death, not after a wall-time kill', async () => {
    const died = await run({ code: 'mkdir out; echo kept > out/f; kill -SEGV $$' });
    expect(died.result).toMatchObject({ reason: 'signal', signal: 'SIGSEGV' });
    expect(died.result.files?.map((f) => f.name)).toEqual(['f']);
    const killed = await run({
      code: 'mkdir out; echo lost > out/f; sleep 30',
      limits: { wall_time_ms: 1000 },
    });
    expect(killed.result.reason).toBe('wall_time');
    expect(killed.result.files).toBeUndefined();
  });

  it('has no files field when the program made no out/', async () => {
    expect((await run({ code: 'echo hi' })).result.files).toBeUndefined();
  });

  it('rejects a bad file name as invalid_request before anything runs', async () => {
    await expect(
      run({ code: 'echo ran', files: [{ name: '../escape', content: 'x', encoding: 'utf8' }] }),
    ).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
