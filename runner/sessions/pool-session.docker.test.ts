// Sessions of the pool against the real engine: executions share /workspace, the runner's kills
// (wall time, output cap, cancel) end the sandbox's processes but keep its container, OOM is told
// from the cgroup's counter, and a closed or lost session leaves no container behind.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { CodeexecError } from '../../shared/errors.js';
import type { RunResult } from '../../shared/job.js';
import { LANGUAGES } from '../../shared/languages.js';
import { type LimitsInput, MAX_LIMITS } from '../../shared/limits.js';
import type { JobSpec, OutputChunk } from '../execution/execute-job.js';
import { JobControl } from '../execution/job-control.js';
import { RUNNER_LABEL, SandboxPool } from '../pool/sandbox-pool.js';
import type { PoolSession } from './pool-session.js';

const MiB = 1024 * 1024;
const languages = LANGUAGES.filter((lang) => ['python', 'go'].includes(lang.name));
const runnerName = `session-test-${process.pid}-${Date.now()}`;

function docker(...args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8' }).trim();
}

function containersOf(name: string): string[] {
  return docker('ps', '-aq', '--no-trunc', '--filter', `label=${RUNNER_LABEL}=${name}`)
    .split('\n')
    .filter((id) => id !== '');
}

/**
 * Whether a new `docker exec` can start in the container. Not when every pid is taken: it then
 * fails (126) or hangs in runc; either way it is not running within a few seconds.
 */
async function execStarts(id: string): Promise<boolean> {
  try {
    await promisify(execFile)('docker', ['exec', id, 'true'], { timeout: 4000 });
    return true;
  } catch {
    return false;
  }
}

/** Whether a container with this id still exists (running or not). */
function exists(id: string): boolean {
  return docker('ps', '-aq', '--no-trunc', '--filter', `id=${id}`) !== '';
}

let jobs = 0;
function job(code: string, extra: Partial<Omit<JobSpec, 'code'>> = {}): JobSpec {
  return { id: `job-${++jobs}`, lang: 'python', code, stdin: null, args: [], limits: null, ...extra };
}

describe('PoolSession on the real engine', () => {
  const pool = new SandboxPool({ runnerName, languages, minWarm: 1, maxWarm: 2 });

  beforeAll(async () => {
    await pool.start();
  });

  afterAll(async () => {
    await pool.close();
    expect(containersOf(runnerName)).toEqual([]);
  });

  /** A session closed (and its container checked gone) when the test ends, even on failure. */
  async function open(limits: LimitsInput | null = null, lang = 'python'): Promise<PoolSession> {
    const session = await pool.openSession(lang, limits);
    onTestFinished(async () => {
      await session.close();
      await expect.poll(() => exists(session.containerId), { timeout: 10_000 }).toBe(false);
    });
    return session;
  }

  async function run(
    session: PoolSession,
    spec: JobSpec,
    signal?: AbortSignal,
  ): Promise<{ result: RunResult; chunks: OutputChunk[]; stages: string[] }> {
    const chunks: OutputChunk[] = [];
    const stages: string[] = [];
    const result = await session.execute(
      spec,
      (chunk) => chunks.push(chunk),
      signal,
      (stage, compile) =>
        stages.push(`${stage}@${chunks.length} after compile ${compile.reason} ${compile.exit_code}`),
    );
    return { result, chunks, stages };
  }

  /** Lists the sandbox's processes, by command line, from inside it. */
  const PS = [
    'import os',
    'for p in os.listdir("/proc"):',
    '    try: print(open(f"/proc/{p}/cmdline", "rb").read().replace(b"\\0", b" ").decode())',
    '    except Exception: pass',
  ].join('\n');

  it('keeps files from one execution to the next, in one container; not the processes left running', async () => {
    const session = await open();
    const first = await run(
      session,
      job(
        [
          'import socket, subprocess',
          'open("notes.txt", "w").write("written by the first")',
          'subprocess.Popen(["sleep", "4321.25"], start_new_session=True)',
          'print(socket.gethostname())',
        ].join('\n'),
      ),
    );
    expect(first.result).toMatchObject({ reason: 'exited', exit_code: 0 });
    const second = await run(
      session,
      job(`import socket\nprint(open("notes.txt").read())\nprint(socket.gethostname())\n${PS}`),
    );
    const [notes, host, ...processes] = second.result.stdout.split('\n');
    expect(notes).toBe('written by the first');
    expect(host).toBe(first.result.stdout.trim());
    expect(session.containerId.startsWith(host ?? '-')).toBe(true);
    expect(processes.some((line) => line.includes('4321.25'))).toBe(false);
    expect(processes).toContain('sleep infinity ');
    expect(session.state).toBe('open');
  });

  it('sizes the container by the session limits, clamped to the runner maximums', async () => {
    const session = await open({
      memory_bytes: 96 * MiB,
      pids: 40,
      wall_time_ms: 10 * MAX_LIMITS.wall_time_ms,
    });
    expect(session.limits).toMatchObject({
      memory_bytes: 96 * MiB,
      pids: 40,
      wall_time_ms: MAX_LIMITS.wall_time_ms,
    });
    const host = docker(
      'inspect',
      '-f',
      '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}',
      session.containerId,
    );
    expect(host).toBe(`${96 * MiB} 40`);
    // An execution asking for more memory still runs in the session's sandbox, as it is.
    const { result } = await run(session, job('print("ok")', { limits: { memory_bytes: 512 * MiB } }));
    expect(result.stdout).toBe('ok\n');
    expect(docker('inspect', '-f', '{{.HostConfig.Memory}}', session.containerId)).toBe(`${96 * MiB}`);
  });

  it('ends an execution at wall time without losing the files; its background processes are gone', async () => {
    const session = await open();
    const code = [
      'import subprocess',
      'open("kept.txt", "w").write("still here")',
      'subprocess.Popen(["sleep", "4321.5"], start_new_session=True)',
      'print("looping", flush=True)',
      'while True: pass',
    ].join('\n');
    const started = performance.now();
    const { result } = await run(session, job(code, { limits: { wall_time_ms: 3000 } }));
    expect(result).toMatchObject({ reason: 'wall_time', signal: 'SIGKILL', stdout: 'looping\n' });
    expect(performance.now() - started).toBeLessThan(8000);
    expect(session.state).toBe('open');
    const after = await run(session, job(`print(open("kept.txt").read())\n${PS}`));
    const [kept, ...processes] = after.result.stdout.split('\n');
    expect(kept).toBe('still here');
    expect(processes.some((line) => line.includes('4321.5'))).toBe(false);
    expect(processes.some((line) => line.startsWith('sleep infinity'))).toBe(true);
  });

  it('cancels an execution through its signal and stays usable', async () => {
    const session = await open();
    const abort = new AbortController();
    const code =
      'open("before.txt", "w").write("kept")\nimport time\nprint("go", flush=True)\ntime.sleep(30)';
    const chunks: OutputChunk[] = [];
    const running = session.execute(
      job(code),
      (chunk) => {
        chunks.push(chunk);
        // The whole line: an unbuffered python writes "go" and its newline apart.
        if (
          chunks
            .map((c) => c.data)
            .join('')
            .includes('go\n')
        )
          abort.abort();
      },
      abort.signal,
    );
    const result = await running;
    expect(result).toMatchObject({ reason: 'cancelled', stdout: 'go\n' });
    expect(result.wall_ms).toBeLessThan(5000);
    const { result: after } = await run(session, job('print(open("before.txt").read())'));
    expect(after).toMatchObject({ reason: 'exited', stdout: 'kept\n' });
  });

  it('streams live stdin to an interactive execution and delivers its signals, execution after execution', async () => {
    const session = await open();
    for (const word of ['first', 'second']) {
      const control = new JobControl(true);
      const code = [
        'import signal, sys, time',
        'signal.signal(signal.SIGUSR1, lambda *_: print("usr1", flush=True))',
        'line = sys.stdin.readline()',
        'print("got", line.strip(), flush=True)',
        'time.sleep(30)',
      ].join('\n');
      const running = session.execute(
        job(code, { control }),
        (chunk) => {
          if (chunk.data.startsWith('got')) control.signal('SIGUSR1');
          if (chunk.data.startsWith('usr1')) control.signal('SIGTERM');
        },
        undefined,
      );
      control.input?.write(Buffer.from(`${word}\n`));
      const result = await running;
      expect(result).toMatchObject({ reason: 'signal', signal: 'SIGTERM', stdout: `got ${word}\nusr1\n` });
    }
  });

  it('ends an execution at its output cap and stays usable', async () => {
    const session = await open();
    const { result } = await run(
      session,
      job('open("f", "w").write("1")\nwhile True: print("x" * 1000)', { limits: { output_bytes: 5000 } }),
    );
    expect(result).toMatchObject({ reason: 'output_limit', truncated: true, signal: 'SIGKILL' });
    expect(result.stdout).toBe(`${'x'.repeat(1000)}\n`.repeat(5).slice(0, 5000));
    const { result: after } = await run(session, job('print(open("f").read())'));
    expect(after.stdout).toBe('1\n');
  });

  it('tells an OOM kill (reason memory) from a plain SIGKILL by the cgroup counter, and survives both', async () => {
    const session = await open({ memory_bytes: 64 * MiB });
    await run(session, job('open("f", "w").write("kept")'));
    const oom = await run(session, job('a = []\nwhile True: a.append(bytearray(8 * 1024 * 1024))'));
    expect(oom.result).toMatchObject({ reason: 'memory', signal: 'SIGKILL', exit_code: 137 });
    // The counter rose once: the next SIGKILL, not the OOM killer's, is a signal again.
    const killed = await run(session, job('import os, signal\nos.kill(os.getpid(), signal.SIGKILL)'));
    expect(killed.result).toMatchObject({ reason: 'signal', signal: 'SIGKILL', exit_code: 137 });
    const oomAgain = await run(session, job('a = []\nwhile True: a.append(bytearray(8 * 1024 * 1024))'));
    expect(oomAgain.result.reason).toBe('memory');
    const { result } = await run(session, job('print(open("f").read())'));
    expect(result).toMatchObject({ reason: 'exited', stdout: 'kept\n' });
    expect(session.state).toBe('open');
  });

  const FORK_BOMB = [
    'import os, time',
    'print("bomb", flush=True)',
    'while True:',
    '    try: os.fork()',
    '    except OSError: time.sleep(0.01)',
  ].join('\n');

  it('survives a fork bomb at wall time and serves the next execution', async () => {
    const session = await open({ pids: 64 });
    let lost: CodeexecError | null = null;
    void session.lost.then((error) => {
      lost = error;
    });
    const ran = await run(session, job(FORK_BOMB, { limits: { wall_time_ms: 2000 } }));
    expect(ran.result).toMatchObject({ reason: 'wall_time' });
    const { result } = await run(session, job('print("after the bomb")'));
    expect(result.stdout).toBe('after the bomb\n');
    expect(lost).toBeNull();
    expect(session.state).toBe('open');
  });

  it('stops a fork bomb holding every pid at the maximum limit, where no exec can start, keeping the files', async () => {
    const session = await open({ pids: MAX_LIMITS.pids, memory_bytes: MAX_LIMITS.memory_bytes });
    await run(session, job('open("before.txt", "w").write("kept")'));
    const abort = new AbortController();
    const running = run(session, job(FORK_BOMB, { limits: { wall_time_ms: 60_000 } }), abort.signal);
    // Once not even `docker exec true` can start, only a process already inside can stop the bomb.
    await expect.poll(() => execStarts(session.containerId), { timeout: 40_000, interval: 250 }).toBe(false);
    abort.abort();
    expect((await running).result).toMatchObject({ reason: 'cancelled', stdout: 'bomb\n' });
    const others =
      'import os\nprint(sum(p.isdigit() and int(p) != os.getpid() and open(f"/proc/{p}/cmdline").read().startswith("python3") for p in os.listdir("/proc")))';
    const after = await run(session, job(`print(open("before.txt").read())\n${others}`));
    // The files are there; not one of the bomb's processes is.
    expect(after.result.stdout).toBe('kept\n0\n');
    expect(session.state).toBe('open');
  });

  it('ends a fork bomb an execution left running, so the next one has room', async () => {
    const session = await open({ pids: 32 });
    // The program exits at once; the bash fork bomb it started lives on without its stdout.
    const leave = [
      'import subprocess',
      'subprocess.Popen(["bash", "-c", "f() { f | f & }; f"], start_new_session=True,',
      '    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)',
    ].join('\n');
    await run(session, job(leave));
    const { result } = await run(session, job('print("room again")'));
    expect(result).toMatchObject({ reason: 'exited', stdout: 'room again\n' });
    expect(session.state).toBe('open');
  });

  it('removes the container on close, cancelling a running execution', async () => {
    const session = await open();
    const id = session.containerId;
    expect(exists(id)).toBe(true);
    let seen: () => void = () => {};
    const output = new Promise<void>((resolve) => {
      seen = resolve;
    });
    // The whole line, not just its first chunk: the engine may deliver "up" and "\n" apart.
    let stdout = '';
    const running = session.execute(job('import time\nprint("up", flush=True)\ntime.sleep(30)'), (chunk) => {
      stdout += chunk.data;
      if (stdout.includes('up\n')) seen();
    });
    await output;
    await expect(session.execute(job('print(1)'), () => {})).rejects.toMatchObject({
      code: 'sandbox_failed',
      message: expect.stringMatching(/running another execution/),
    });
    await session.close();
    expect(await running).toMatchObject({ reason: 'cancelled', stdout: 'up\n' });
    expect(session.state).toBe('ended');
    await expect.poll(() => exists(id), { timeout: 10_000 }).toBe(false);
    await expect(session.execute(job('print(1)'), () => {})).rejects.toMatchObject({
      code: 'sandbox_failed',
    });
  });

  it('is lost when its container dies, and the container is removed', async () => {
    const session = await open();
    await run(session, job('print(1)'));
    docker('kill', session.containerId);
    const error = await session.lost;
    expect(error).toBeInstanceOf(CodeexecError);
    expect(error).toMatchObject({ code: 'sandbox_failed', message: expect.stringMatching(/died/) });
    await expect.poll(() => session.state).toBe('ended');
    await expect.poll(() => exists(session.containerId), { timeout: 10_000 }).toBe(false);
  });

  it('compiles and runs go executions, each saying when its run stage starts', async () => {
    const session = await open({ memory_bytes: 256 * MiB }, 'go');
    const main = (text: string) =>
      `package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc main() {\n\tfmt.Println("${text}")\n\tos.WriteFile("go.txt", []byte("${text}"), 0o644)\n}\n`;
    const first = await run(session, job(main('first'), { lang: 'go' }));
    expect(first.result).toMatchObject({ reason: 'exited', stdout: 'first\n' });
    // Called once, before any output of the run stage (the compiler's is never live).
    expect(first.stages).toEqual(['run@0 after compile exited 0']);
    expect(first.chunks.map((chunk) => chunk.data).join('')).toBe('first\n');
    const second = await run(
      session,
      job(`${main('second')}\nfunc init() { b, _ := os.ReadFile("go.txt"); fmt.Print(string(b), " ") }\n`, {
        lang: 'go',
      }),
    );
    expect(second.result).toMatchObject({ reason: 'exited', stdout: 'first second\n' });
    expect(docker('inspect', '-f', '{{.HostConfig.Memory}}', session.containerId)).toBe(`${256 * MiB}`);
  });

  it('refuses a language it does not have', async () => {
    await expect(pool.openSession('cobol', null)).rejects.toMatchObject({ code: 'unknown_language' });
  });
});
