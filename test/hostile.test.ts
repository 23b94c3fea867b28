// The hostile-code suite: programs that try to hurt the runner, the host or other jobs, each run
// through the real pool on the real engine. Each must end with the right status, leave nothing
// behind, and the pool must still serve afterwards. No test sends a packet off the box: in a
// NetworkMode none sandbox a connect to a non-loopback address fails before anything leaves.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobSpec } from '../runner/execution/execute-job.js';
import { RUNNER_LABEL, SandboxPool } from '../runner/pool/sandbox-pool.js';
import type { FileInput, RunResult } from '../shared/job.js';
import { LANGUAGES } from '../shared/languages.js';
import type { LimitsInput } from '../shared/limits.js';
import { uniqueName } from './helpers.js';

const MiB = 1024 * 1024;
const runnerName = uniqueName('hostile-test');
const languages = LANGUAGES.filter((l) => ['python', 'bash'].includes(l.name));
const pool = new SandboxPool({ runnerName, languages, minWarm: 1, maxWarm: 2 });

function docker(...args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8' });
}

/** Ids of this runner's containers that exist (running or not). */
function containers(): string[] {
  return docker('ps', '-aq', '--no-trunc', '--filter', `label=${RUNNER_LABEL}=${runnerName}`)
    .split('\n')
    .filter((id) => id !== '');
}

let jobs = 0;
interface Submit {
  stdin?: string;
  limits?: LimitsInput;
  files?: FileInput[];
}
async function run(lang: 'python' | 'bash', code: string, options: Submit = {}): Promise<RunResult> {
  const job: JobSpec = {
    id: `hostile-${++jobs}`,
    lang,
    code,
    stdin: options.stdin ?? null,
    args: [],
    files: options.files ?? [],
    limits: options.limits ?? null,
  };
  return pool.execute(job, () => {});
}

const lines = (text: string) => text.trim().split('\n');
const passwdHash = () => createHash('sha256').update(readFileSync('/etc/passwd')).digest('hex');
const hostPasswd = passwdHash();

beforeAll(async () => {
  await pool.start();
});

afterAll(async () => {
  await pool.close();
  expect(containers()).toEqual([]);
  expect(passwdHash()).toBe(hostPasswd);
});

describe('processes', () => {
  it('contains a bash fork bomb (pids limit); nothing it forked outlives the job', async () => {
    const started = performance.now();
    const result = await run('bash', 'echo "$HOSTNAME"\n:(){ :|:& };:\nwait', {
      limits: { wall_time_ms: 5000 },
    });
    // bash gives up once forks keep failing, so the script may end by itself before the wall
    // time, with its bomb still running; a flood of "fork: retry" may reach the output cap first.
    expect(['exited', 'wall_time', 'output_limit']).toContain(result.reason);
    expect(result.stderr).toMatch(/fork: (retry: )?Resource temporarily unavailable/);
    expect(performance.now() - started).toBeLessThan(15_000);
    const shortId = result.stdout.trim();
    expect(shortId).toMatch(/^[0-9a-f]{12}$/);
    await expect
      .poll(() => containers().some((id) => id.startsWith(shortId)), { timeout: 15_000 })
      .toBe(false);
  });

  it('stops python forking at the pids limit', async () => {
    const code = [
      'import os, time',
      'n = 0',
      'try:',
      '    while True:',
      '        if os.fork() == 0:',
      '            time.sleep(60)',
      '            os._exit(0)',
      '        n += 1',
      'except OSError as e:',
      '    print(n, e.strerror, flush=True)',
      '    os._exit(0)',
    ].join('\n');
    const result = await run('python', code, { limits: { pids: 64 } });
    const [count, ...why] = result.stdout.trim().split(' ');
    expect(Number(count)).toBeGreaterThan(10);
    expect(Number(count)).toBeLessThan(64);
    expect(why.join(' ')).toBe('Resource temporarily unavailable');
  });

  it('stops a thread bomb at the pids limit (threads count)', async () => {
    const code = [
      'import os, threading, time',
      'n = 0',
      'try:',
      '    while True:',
      '        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()',
      '        n += 1',
      'except RuntimeError as e:',
      '    print(n, e, flush=True)',
      '    os._exit(0)',
    ].join('\n');
    const result = await run('python', code, { limits: { pids: 64 } });
    expect(result.stdout).toMatch(/^\d+ can't start new thread\n$/);
    expect(Number(result.stdout.split(' ')[0])).toBeLessThan(64);
  });

  it('lets init reap orphaned zombies', async () => {
    const code = [
      'import os, time',
      'def zombies():',
      '    n = 0',
      '    for pid in filter(str.isdigit, os.listdir("/proc")):',
      '        try:',
      '            with open(f"/proc/{pid}/stat") as f:',
      '                n += f.read().rsplit(")", 1)[1].split()[0] == "Z"',
      '        except OSError:',
      '            pass',
      '    return n',
      'middle = os.fork()',
      'if middle == 0:',
      '    for _ in range(20):',
      '        if os.fork() == 0:',
      '            os._exit(0)',
      '    time.sleep(0.5)',
      '    print("while their parent lives:", zombies(), flush=True)',
      '    os._exit(0)',
      'os.waitpid(middle, 0)',
      'time.sleep(0.5)',
      'print("after their parent exited:", zombies(), flush=True)',
    ].join('\n');
    const result = await run('python', code);
    expect(lines(result.stdout)).toEqual(['while their parent lives: 20', 'after their parent exited: 0']);
  });

  it('ends a daemon that tries to outlive its job, and returns promptly', async () => {
    const code = [
      // Detached with its fds closed, and a double fork that keeps stdout open.
      "setsid sh -c 'sleep 300' </dev/null >/dev/null 2>&1 &",
      '( setsid sleep 301 & )',
      'echo "$HOSTNAME"',
    ].join('\n');
    const started = performance.now();
    const result = await run('bash', code, { limits: { wall_time_ms: 20_000 } });
    // docker ends an exec's stream at most ~2 s after its process exits, whoever holds the pipe.
    expect(performance.now() - started).toBeLessThan(6000);
    expect(result).toMatchObject({ reason: 'exited', exit_code: 0 });
    const shortId = result.stdout.trim();
    expect(shortId).toMatch(/^[0-9a-f]{12}$/);
    // The pool removes a container that still runs anything at once (the reaper sees its pids).
    await expect
      .poll(() => containers().some((id) => id.startsWith(shortId)), { timeout: 15_000 })
      .toBe(false);
  });
});

describe('resources', () => {
  it('kills a memory bomb (reason memory)', async () => {
    const code = 'a = []\nwhile True: a.append(bytearray(8 * 1024 * 1024))';
    const result = await run('python', code, { limits: { memory_bytes: 64 * MiB } });
    expect(result).toMatchObject({ reason: 'memory', signal: 'SIGKILL', exit_code: 137 });
  });

  it('stops a CPU spin (reason cpu_time)', async () => {
    const result = await run('python', 'while True: pass', { limits: { cpu_time_ms: 1000 } });
    expect(result).toMatchObject({ reason: 'cpu_time', signal: 'SIGXCPU' });
  });

  it('kills a sleep forever at wall time, promptly', async () => {
    const started = performance.now();
    const result = await run('python', 'import time\ntime.sleep(10**6)', { limits: { wall_time_ms: 1500 } });
    expect(result).toMatchObject({ reason: 'wall_time', signal: 'SIGKILL', exit_code: null });
    expect(performance.now() - started).toBeLessThan(8000);
  });

  it('cuts an output flood on both streams, keeping the runner’s memory bounded', async () => {
    const code = [
      'import sys',
      'chunk = "x" * 65536',
      'while True:',
      '    sys.stdout.write(chunk)',
      '    sys.stderr.write(chunk)',
    ].join('\n');
    // One flood first: what the first one allocates for good (stream buffers, lazily loaded code)
    // is not growth. Bounded means three more floods add little on top of it.
    await run('python', code);
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 3; i++) {
      const result = await run('python', code);
      expect(result).toMatchObject({ reason: 'output_limit', truncated: true });
      expect(Math.max(result.stdout.length, result.stderr.length)).toBe(MiB);
    }
    expect(process.memoryUsage().rss - before).toBeLessThan(50 * MiB);
  });

  it('cuts a single huge line with no newline at the output cap', async () => {
    const code = 'import sys\nsys.stdout.write("y" * (64 * 1024 * 1024))';
    const result = await run('python', code, { limits: { memory_bytes: 512 * MiB } });
    expect(result).toMatchObject({ reason: 'output_limit', truncated: true });
    expect(result.stdout).toBe('y'.repeat(MiB));
  });

  it('fills /workspace, /tmp and /dev/shm only up to their sizes (ENOSPC)', async () => {
    // Memory above the tmpfs sizes, so the disks fill before the memory limit (their pages count).
    const code = [
      'for d in /workspace /tmp /dev/shm; do',
      '  i=0',
      '  while head -c 8388608 /dev/zero > "$d/fill$i"; do i=$((i + 1)); done',
      '  echo "$d $i"',
      '  rm -f "$d"/fill*',
      'done',
    ].join('\n');
    const result = await run('bash', code, { limits: { memory_bytes: 768 * MiB, wall_time_ms: 30_000 } });
    expect(result).toMatchObject({ reason: 'exited', exit_code: 0 });
    // 8 MiB files: 64 MiB workspace, 256 MiB /tmp, 64 MiB /dev/shm (the pool's sizes), less what is
    // already there.
    const filled = Object.fromEntries(lines(result.stdout).map((line) => line.split(' ')));
    expect(Number(filled['/workspace'])).toBeGreaterThanOrEqual(6);
    expect(Number(filled['/workspace'])).toBeLessThanOrEqual(8);
    expect(Number(filled['/tmp'])).toBeGreaterThanOrEqual(30);
    expect(Number(filled['/tmp'])).toBeLessThanOrEqual(32);
    expect(Number(filled['/dev/shm'])).toBeGreaterThanOrEqual(6);
    expect(Number(filled['/dev/shm'])).toBeLessThanOrEqual(8);
    expect(result.stderr).toMatch(/No space left on device/);
  });

  it('takes a huge stdin the program ignores, and one it reads whole', async () => {
    const big = 'z'.repeat(8 * MiB);
    const ignored = await run('python', 'print("ignored")', { stdin: big });
    expect(ignored).toMatchObject({ reason: 'exited', exit_code: 0, stdout: 'ignored\n' });
    const read = await run('python', 'import sys\nprint(len(sys.stdin.buffer.read()))', { stdin: big });
    expect(read).toMatchObject({ reason: 'exited', exit_code: 0, stdout: `${8 * MiB}\n` });
  });
});

describe('isolation', () => {
  it('has no network: loopback only, no route out, no DNS, no raw sockets', async () => {
    const code = [
      'import socket',
      'def attempt(address):',
      '    s = socket.socket()',
      '    s.settimeout(2)',
      '    try:',
      '        s.connect(address)',
      '        return "connected"',
      '    except OSError as e:',
      '        return e.strerror',
      'print("loopback:", attempt(("127.0.0.1", 80)))',
      'print("internet:", attempt(("1.1.1.1", 53)))',
      'try:',
      '    socket.getaddrinfo("example.com", 80)',
      '    print("dns: resolved")',
      'except socket.gaierror as e:',
      '    print("dns: failed")',
      'try:',
      '    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)',
      '    print("raw: allowed")',
      'except OSError as e:',
      '    print("raw:", e.strerror)',
      'print("interfaces:", sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]))',
    ].join('\n');
    const result = await run('python', code);
    expect(lines(result.stdout)).toEqual([
      'loopback: Connection refused',
      'internet: Network is unreachable',
      'dns: failed',
      'raw: Operation not permitted',
      "interfaces: ['lo']",
    ]);
  });

  it('sees only the image’s environment, nothing of the runner’s', async () => {
    const imageEnv = JSON.parse(
      docker('image', 'inspect', '--format', '{{json .Config.Env}}', 'codeexec/bash:latest'),
    ) as string[];
    const allowed = new Set([
      ...imageEnv.map((entry) => entry.split('=')[0]),
      'HOSTNAME',
      'PWD',
      'SHLVL',
      '_',
    ]);
    const result = await run('bash', 'env -0');
    const seen = result.stdout.split('\0').filter((entry) => entry !== '');
    expect(seen.length).toBeGreaterThan(0);
    for (const entry of seen) expect(allowed, entry).toContain(entry.split('=')[0]);
    expect(seen).toContain(imageEnv.find((entry) => entry.startsWith('PATH=')));
    expect(result.stdout).not.toMatch(/CODEEXEC|TOKEN|SECRET|npm_|VITEST/);
  });

  it('cannot write outside its tmpfs mounts', async () => {
    const code = 'for p in /x /etc/x /usr/x /var/tmp/x /dev/x; do touch "$p" 2>&1; done; true';
    const result = await run('bash', code);
    expect(lines(result.stdout)).toEqual([
      "touch: cannot touch '/x': Read-only file system",
      "touch: cannot touch '/etc/x': Read-only file system",
      "touch: cannot touch '/usr/x': Read-only file system",
      "touch: cannot touch '/var/tmp/x': Read-only file system",
      "touch: cannot touch '/dev/x': Permission denied",
    ]);
  });

  it('cannot gain privileges: no-new-privileges, no capabilities, nosuid, no sudo', async () => {
    const code = [
      'grep -E "^(NoNewPrivs|CapEff|CapBnd):" /proc/self/status | tr -s "\\t" " "',
      'cp /usr/bin/id ./myid && chmod u+s ./myid && ./myid -u',
      'grep " /workspace " /proc/mounts | grep -o nosuid',
      'ls -l /usr/bin/su | cut -c1-10',
      'su -c id root </dev/null >/dev/null 2>&1; echo "su: $?"',
      'command -v sudo || echo "sudo: absent"',
    ].join('\n');
    const result = await run('bash', code);
    expect(lines(result.stdout)).toEqual([
      'CapEff: 0000000000000000',
      'CapBnd: 0000000000000000',
      'NoNewPrivs: 1',
      '10001',
      'nosuid',
      '-rwsr-xr-x',
      'su: 1',
      'sudo: absent',
    ]);
  });
});

describe('files', () => {
  it('rejects request file names with `..`, an absolute path, NUL or a newline', async () => {
    for (const name of ['../escape', 'a/../../b', '/etc/passwd', 'a\0b', 'a\nb']) {
      await expect(
        run('bash', 'echo ran', { files: [{ name, content: 'x', encoding: 'utf8' }] }),
        name,
      ).rejects.toMatchObject({
        code: 'invalid_request',
      });
    }
  });

  it('skips links and odd names the program plants in out/, and the host is untouched', async () => {
    const code = [
      'mkdir -p out/dir',
      'echo real > out/real.txt',
      'ln out/real.txt out/z-hard.txt',
      'ln -s /etc/passwd out/passwd',
      'ln -s ../../.. out/up',
      'ln -s /proc/self/environ out/environ',
      'ln -s / out/dir/root',
      "printf x > 'out/new",
      "line'",
      'printf x > "out/$(printf \'esc\\033\')"',
      'printf x > out/..dots',
      'mkfifo out/fifo',
    ].join('\n');
    const result = await run('bash', code);
    expect(result).toMatchObject({ reason: 'exited', exit_code: 0, stderr: '' });
    expect(result.files?.map((f) => f.name)).toEqual(['..dots', 'real.txt']);
    expect(Buffer.from(result.files?.[1]?.content ?? '', 'base64').toString()).toBe('real\n');
  });

  it('brings binary files back byte for byte', async () => {
    const code = 'import os\nos.mkdir("out")\nopen("out/all.bin", "wb").write(bytes(range(256)) * 4)';
    const result = await run('python', code);
    expect(result.files).toHaveLength(1);
    expect(Buffer.from(result.files?.[0]?.content ?? '', 'base64')).toEqual(
      Buffer.concat(Array(4).fill(Buffer.from(Array.from({ length: 256 }, (_, i) => i)))),
    );
  });
});

describe('output encoding', () => {
  it('decodes binary output and invalid UTF-8 as UTF-8 with replacement characters', async () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const invalid = Buffer.from([0x6f, 0x6b, 0x20, 0xff, 0xfe, 0x20, 0xc3, 0x28, 0x20, 0xe2, 0x82]);
    const code = [
      'import sys',
      'sys.stdout.buffer.write(bytes(range(256)))',
      'sys.stderr.buffer.write(bytes([0x6f, 0x6b, 0x20, 0xff, 0xfe, 0x20, 0xc3, 0x28, 0x20, 0xe2, 0x82]))',
    ].join('\n');
    const result = await run('python', code);
    expect(result.stdout).toBe(all.toString('utf8'));
    expect(result.stderr).toBe(invalid.toString('utf8'));
    expect(result.stderr).toBe('ok \ufffd\ufffd \ufffd( \ufffd');
  });
});

describe('infrastructure', () => {
  it('reports a sandbox that vanishes under its job as sandbox_failed, not as the program’s end', async () => {
    const job: JobSpec = {
      id: `hostile-${++jobs}`,
      lang: 'bash',
      code: 'echo "$HOSTNAME"; sleep 30',
      stdin: null,
      args: [],
      limits: null,
    };
    let removed = false;
    const running = pool.execute(job, (chunk) => {
      if (removed) return;
      removed = true;
      docker('rm', '-f', chunk.data.trim());
    });
    await expect(running).rejects.toMatchObject({ code: 'sandbox_failed' });
    expect(removed).toBe(true);
  });
});

describe('afterwards', () => {
  it('still serves', async () => {
    const result = await run('python', 'print("hello, world")');
    expect(result).toMatchObject({ reason: 'exited', exit_code: 0, stdout: 'hello, world\n' });
  });
});
