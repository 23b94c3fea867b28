// The pool against the real Docker engine and the real python, javascript and go images.
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodeexecError } from '../../shared/errors.js';
import type { RunResult } from '../../shared/job.js';
import { LANGUAGES } from '../../shared/languages.js';
import type { LimitsInput } from '../../shared/limits.js';
import type { RunnerLanguage } from '../../shared/runner-protocol.js';
import type { JobSpec, OutputChunk } from '../execution/execute-job.js';
import { LANGUAGE_LABEL, RUNNER_ID_LABEL, RUNNER_LABEL, SandboxPool } from './sandbox-pool.js';

const TESTED = ['python', 'javascript', 'go'];
const languages = LANGUAGES.filter((lang) => TESTED.includes(lang.name));
const runnerName = `pool-test-${process.pid}-${Date.now()}`;

function containersOf(name: string, language?: string): string[] {
  const filters = ['--filter', `label=${RUNNER_LABEL}=${name}`];
  if (language !== undefined) filters.push('--filter', `label=${LANGUAGE_LABEL}=${language}`);
  const out = execFileSync('docker', ['ps', '-aq', '--no-trunc', ...filters], { encoding: 'utf8' });
  return out.split('\n').filter((id) => id !== '');
}

let jobs = 0;
function job(lang: string, code: string, extra: Partial<Omit<JobSpec, 'lang' | 'code'>> = {}): JobSpec {
  return { id: `job-${++jobs}`, lang, code, stdin: null, args: [], limits: null, ...extra };
}

describe('SandboxPool on the real engine', () => {
  const pool = new SandboxPool({ runnerName, languages, minWarm: 1, maxWarm: 2 });
  let detected: RunnerLanguage[] = [];

  beforeAll(async () => {
    detected = await pool.start();
  });

  afterAll(async () => {
    await pool.close();
  });

  async function run(
    spec: JobSpec,
    signal?: AbortSignal,
  ): Promise<{ result: RunResult; chunks: OutputChunk[] }> {
    const chunks: OutputChunk[] = [];
    const result = await pool.execute(spec, (chunk) => chunks.push(chunk), signal);
    return { result, chunks };
  }

  it('reports each language with its version and aliases', () => {
    expect(detected.map((l) => l.name).sort()).toEqual([...TESTED].sort());
    for (const lang of detected) {
      expect(lang.version).toMatch(/^\d+\.\d+/);
      expect(lang.aliases).toEqual(languages.find((l) => l.name === lang.name)?.aliases);
    }
  });

  it.each([
    ['python', 'print("hello, world")'],
    ['javascript', 'console.log("hello, world")'],
    ['go', 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello, world") }\n'],
  ])('runs hello world in %s', async (lang, code) => {
    const { result, chunks } = await run(job(lang, code));
    expect(result).toMatchObject({ stdout: 'hello, world\n', stderr: '', output: 'hello, world\n' });
    expect(result).toMatchObject({ exit_code: 0, signal: null, reason: 'exited', truncated: false });
    expect(chunks.map((c) => c.data).join('')).toBe('hello, world\n');
    if (lang === 'go') expect(result.compile).toMatchObject({ exit_code: 0, reason: 'exited' });
    else expect(result.compile).toBeUndefined();
  });

  it('accepts an alias', async () => {
    const { result } = await run(job('JS', 'console.log(1 + 1)'));
    expect(result.stdout).toBe('2\n');
  });

  it('gives the program its stdin (then EOF) and its args verbatim', async () => {
    const code = 'import sys\nprint(repr(sys.stdin.read()))\nprint(sys.argv[1:])';
    const { result } = await run(
      job('python', code, { stdin: 'line 1\nline 2', args: ['a b', '$HOME', '*'] }),
    );
    expect(result.stdout).toBe("'line 1\\nline 2'\n['a b', '$HOME', '*']\n");
  });

  it('reports a non-zero exit code and stderr, interleaved in order', async () => {
    // stdout and stderr are two pipes that docker reads separately: their relative order is only
    // as good as the time between the writes, so the program leaves a little.
    const code = [
      'import sys, time',
      'print("out", flush=True)',
      'time.sleep(0.1)',
      'print("err", file=sys.stderr, flush=True)',
      'sys.exit(3)',
    ].join('\n');
    const { result } = await run(job('python', code));
    expect(result).toMatchObject({ stdout: 'out\n', stderr: 'err\n', output: 'out\nerr\n', exit_code: 3 });
    expect(result.reason).toBe('exited');
  });

  it('reports a python syntax error as a failed run', async () => {
    const { result } = await run(job('python', 'print("unclosed'));
    expect(result).toMatchObject({ exit_code: 1, reason: 'exited', stdout: '' });
    expect(result.stderr).toMatch(/SyntaxError/);
  });

  it('keeps a go compile error in the compile stage and does not run', async () => {
    const { result, chunks } = await run(job('go', 'package main\n\nfunc main() { undefinedThing() }\n'));
    expect(result.reason).toBe('compile_failed');
    expect(result.wall_ms).toBe(0);
    expect(result.compile?.reason).toBe('exited');
    expect(result.compile?.exit_code).not.toBe(0);
    expect(result.compile?.stderr).toMatch(/undefined: undefinedThing/);
    expect(result.compile?.wall_ms).toBeGreaterThan(0);
    // The top level repeats the compiler's text for clients that read only output/exit_code.
    expect(result.output).toBe(result.compile?.output);
    expect(chunks).toEqual([]);
  });

  it('kills an infinite loop at wall_time_ms', async () => {
    const started = performance.now();
    const { result } = await run(job('python', 'while True: pass', { limits: { wall_time_ms: 1500 } }));
    expect(result).toMatchObject({ reason: 'wall_time', exit_code: null, signal: 'SIGKILL' });
    expect(result.wall_ms).toBeGreaterThanOrEqual(1500);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('streams output while the program still runs', async () => {
    const code = 'import time\nprint("first", flush=True)\ntime.sleep(1)\nprint("second", flush=True)';
    const seen: { data: string; at: number }[] = [];
    const result = await pool.execute(job('python', code), (chunk) => {
      seen.push({ data: chunk.data, at: performance.now() });
    });
    const endedAt = performance.now();
    expect(result.stdout).toBe('first\nsecond\n');
    // python may write "first" and its newline separately: each is a chunk of its own.
    expect(seen[0]?.data).toMatch(/^first/);
    expect(endedAt - (seen[0]?.at ?? endedAt)).toBeGreaterThan(800);
  });

  it.each<[string, string, LimitsInput, Partial<RunResult>]>([
    [
      'CPU time (SIGXCPU)',
      'while True: pass',
      { cpu_time_ms: 1000 },
      { reason: 'cpu_time', signal: 'SIGXCPU' },
    ],
    [
      'CPU time when SIGXCPU is ignored',
      'import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True: pass',
      { cpu_time_ms: 1000 },
      { reason: 'cpu_time', signal: 'SIGKILL', exit_code: 137 },
    ],
    [
      'memory',
      'a = []\nwhile True: a.append(bytearray(8 * 1024 * 1024))',
      { memory_bytes: 64 * 1024 * 1024 },
      { reason: 'memory', signal: 'SIGKILL', exit_code: 137 },
    ],
    [
      'a signal',
      'import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)',
      {},
      { reason: 'signal', signal: 'SIGSEGV', exit_code: 139 },
    ],
    [
      'the output cap',
      'while True: print("x" * 1000)',
      { output_bytes: 5000 },
      { reason: 'output_limit', truncated: true, signal: 'SIGKILL' },
    ],
  ])('ends on %s', async (_name, code, limits, expected) => {
    const { result } = await run(job('python', code, { limits }));
    expect(result).toMatchObject(expected);
    if (expected.reason === 'output_limit')
      expect(result.stdout).toBe(`${'x'.repeat(1000)}\n`.repeat(5).slice(0, 5000));
  });

  it('keeps multi-byte characters whole', async () => {
    const { result } = await run(job('javascript', 'process.stdout.write("€".repeat(50000))'));
    expect(result.stdout).toBe('€'.repeat(50000));
  });

  it('cancels a running job through its AbortSignal', async () => {
    const abort = new AbortController();
    // Cancelled once it has printed "go" (whole: python's output may come in pieces), not after a
    // fixed delay a loaded machine might not have reached the print by.
    let printed = '';
    const result = await pool.execute(
      job('python', 'import time\nprint("go", flush=True)\ntime.sleep(30)'),
      (chunk) => {
        printed += chunk.data;
        if (printed.includes('\n')) abort.abort();
      },
      abort.signal,
    );
    expect(result).toMatchObject({ reason: 'cancelled', stdout: 'go\n' });
    expect(result.wall_ms).toBeLessThan(5000);
  });

  it('never hands out a warm container that died', async () => {
    // Let the refill settle (a creation in flight would be killed too, and fail the job waiting
    // for it), then kill every warm python container behind the pool's back.
    await pool.settled();
    await expect
      .poll(() => containersOf(runnerName, 'python').length, { timeout: 10_000 })
      .toBeGreaterThan(0);
    // Some may be on their way out already; docker kill then fails for those, which is fine.
    spawnSync('docker', ['kill', ...containersOf(runnerName, 'python')], { stdio: 'ignore' });
    const { result } = await run(job('python', 'print("still here")'));
    expect(result).toMatchObject({ stdout: 'still here\n', reason: 'exited' });
  });

  it('rejects a language it does not have', async () => {
    await expect(pool.execute(job('cobol', 'x'), () => {})).rejects.toMatchObject({
      code: 'unknown_language',
    });
  });

  it('passes awkward args and stdin verbatim through the prepared exec', async () => {
    const args = ['', 'two\nlines', 'back\\slash', '€ ünï', '-n', '--', `it's "quoted"`, '$(id)', '*'];
    const code = 'import sys, json\nprint(json.dumps(sys.argv[1:]))\nprint(sys.stdin.buffer.read().hex())';
    const { result } = await run(job('python', code, { args, stdin: 'a\0b\nc' }));
    const [argv, hex] = result.stdout.split('\n');
    expect(JSON.parse(argv ?? '')).toEqual(args);
    expect(hex).toBe(Buffer.from('a\0b\nc').toString('hex'));
  });

  it('makes minWarm labelled containers ahead of demand and refills after each job', async () => {
    const name = `${runnerName}-stock`;
    const stock = new SandboxPool({ runnerName: name, languages: languages.slice(0, 1), minWarm: 2 });
    try {
      await stock.start();
      await stock.settled();
      const before = containersOf(name);
      expect(before).toHaveLength(2);
      const labels = execFileSync('docker', ['inspect', '-f', '{{json .Config.Labels}}', before[0] ?? ''], {
        encoding: 'utf8',
      });
      expect(JSON.parse(labels)).toMatchObject({ [RUNNER_LABEL]: name, [LANGUAGE_LABEL]: 'python' });
      await stock.execute(job('python', 'print(1)'), () => {});
      await stock.settled();
      const after = containersOf(name);
      expect(after).toHaveLength(2);
      // Exactly one of the two was used, and it is gone: a container serves one job.
      expect(after.filter((id) => before.includes(id))).toHaveLength(1);
    } finally {
      await stock.close();
    }
    expect(containersOf(name)).toEqual([]);
  });

  it("removes its own orphans on start, and only its own: not a namesake runner's", async () => {
    const name = `${runnerName}-orphans`;
    // Two runners with one display name (two on one host): only the identity tells them apart.
    const start = (id: string) =>
      execFileSync(
        'docker',
        [
          'run',
          '-d',
          '--network',
          'none',
          '--label',
          `${RUNNER_LABEL}=${name}`,
          '--label',
          `${RUNNER_ID_LABEL}=${id}`,
          'codeexec/python:latest',
          'sleep',
          'infinity',
        ],
        { encoding: 'utf8' },
      ).trim();
    const orphan = start(`${name}-mine`);
    const namesake = start(`${name}-theirs`);
    const restarted = new SandboxPool({
      runnerName: name,
      runnerId: `${name}-mine`,
      languages: languages.slice(0, 1),
    });
    try {
      await restarted.start();
      expect(containersOf(name)).not.toContain(orphan);
      expect(containersOf(name)).toContain(namesake);
    } finally {
      await restarted.close();
      spawnSync('docker', ['rm', '-f', namesake], { stdio: 'ignore' });
    }
  });

  it('removes every container it made when closed', async () => {
    const other = new SandboxPool({ runnerName: `${runnerName}-close`, languages: languages.slice(0, 1) });
    try {
      await other.start();
      expect(containersOf(`${runnerName}-close`).length).toBeGreaterThan(0);
      let started: () => void = () => {};
      const output = new Promise<void>((resolve) => {
        started = resolve;
      });
      const running = other.execute(
        job('python', 'import time\nprint("up", flush=True)\ntime.sleep(30)'),
        started,
      );
      const failed = expect(running).rejects.toSatisfy(
        (err) => err instanceof CodeexecError && err.code === 'sandbox_failed',
      );
      await output;
      await other.close();
      await failed;
      expect(containersOf(`${runnerName}-close`)).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('removes at once a container whose job left a process running, even while jobs run', async () => {
    // A unique duration names the stray process on the host's process list.
    const stray = `sleep ${4000 + (process.pid % 1000)}.25`;
    const pgrep = () => spawnSync('pgrep', ['-f', stray]).status === 0;
    const code = `import subprocess\nsubprocess.Popen(${JSON.stringify(stray.split(' '))}, start_new_session=True)`;
    let slowDone = false;
    const slow = run(job('python', 'import time\ntime.sleep(8)')).then(() => {
      slowDone = true;
    });
    const { result } = await run(job('python', code));
    expect(result.reason).toBe('exited');
    // The pool is not quiet (the slow job runs), yet the stray process is gone with its container.
    await expect.poll(pgrep, { timeout: 6000 }).toBe(false);
    expect(slowDone).toBe(false);
    await slow;
  });

  it('leaves no container behind after close()', async () => {
    await pool.close();
    await pool.close(); // idempotent
    expect(containersOf(runnerName)).toEqual([]);
  });
});
