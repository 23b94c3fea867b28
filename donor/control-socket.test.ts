// The donor's control channel over a real Unix socket in a temp directory: requests and answers,
// malformed input answered (never a crash), only the owner's permissions, a stale socket replaced,
// and the client's "no donor here".
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { DonorStatus } from '../shared/donor.js';
import { controlRequest, DonorNotRunningError } from './control-client.js';
import { ControlSocket, type ControlTarget, controlSocketPath, MAX_REQUEST_BYTES } from './control-socket.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'codeexec-ctl-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function statusOf(state: DonorStatus['state'], reason: DonorStatus['reason']): DonorStatus {
  return {
    at: 1,
    state,
    reason,
    reason_text: reason,
    running: 0,
    jobs: [],
    jobs_done: 0,
    jobs_today: 0,
    cpu_seconds: 0,
    cpu_seconds_today: 0,
    connection: { state: 'connected', gateway: 'http://gw' },
    engine_problem: null,
    caps: { slots: 1, cpus: 1, memory_mb: 512, languages: null },
    log: [],
  };
}

/** A donor stand-in that records what it was told. */
class FakeTarget implements ControlTarget {
  calls: string[] = [];
  current = statusOf('donating', 'donating');
  finishing: () => void = () => {};

  status(): DonorStatus {
    return this.current;
  }
  pause(until: number | null): void {
    this.calls.push(`pause ${until}`);
    this.current = { ...statusOf('paused', 'paused_by_owner'), paused_until: until };
  }
  resume(): void {
    this.calls.push('resume');
    this.current = statusOf('donating', 'donating');
  }
  finish(): Promise<void> {
    this.calls.push('finish');
    this.current = statusOf('finishing', 'finishing_by_owner');
    return new Promise((resolve) => {
      this.finishing = resolve;
    });
  }
}

async function serve(dir: string, target: ControlTarget = new FakeTarget()): Promise<ControlSocket> {
  const socket = await ControlSocket.listen(dir, target);
  onTestFinished(() => socket.close());
  return socket;
}

/** Raw lines in, raw lines out: what a hand-written client would see. */
async function exchange(path: string, text: string, answers: number): Promise<string[]> {
  const socket = createConnection(path);
  socket.setEncoding('utf8');
  let received = '';
  return new Promise((resolve, reject) => {
    socket.on('connect', () => socket.write(text));
    socket.on('data', (chunk: string) => {
      received += chunk;
      const lines = received.split('\n').filter(Boolean);
      if (lines.length >= answers) {
        socket.destroy();
        resolve(lines);
      }
    });
    socket.on('error', reject);
  });
}

describe('ControlSocket', () => {
  it('answers status, pause (until or indefinitely), resume and finish with the status', async () => {
    const dir = await tempDir();
    const target = new FakeTarget();
    await serve(dir, target);
    expect(await controlRequest(dir, { cmd: 'status' })).toEqual({ ok: true, status: target.current });
    const paused = await controlRequest(dir, { cmd: 'pause', until: 1_800_000_000_000 });
    expect(paused).toMatchObject({ ok: true, status: { state: 'paused', paused_until: 1_800_000_000_000 } });
    await controlRequest(dir, { cmd: 'pause' });
    expect(await controlRequest(dir, { cmd: 'resume' })).toMatchObject({ status: { state: 'donating' } });
    // finish answers at once, without waiting for the jobs to end…
    expect(await controlRequest(dir, { cmd: 'finish' })).toMatchObject({ status: { state: 'finishing' } });
    expect(target.calls).toEqual(['pause 1800000000000', 'pause null', 'resume', 'finish']);
  });

  it('answers finish with wait only once the jobs have ended', async () => {
    const dir = await tempDir();
    const target = new FakeTarget();
    await serve(dir, target);
    let answered = false;
    const answer = controlRequest(dir, { cmd: 'finish', wait: true }, { timeoutMs: null }).then((r) => {
      answered = true;
      return r;
    });
    await expect.poll(() => target.calls).toEqual(['finish']);
    expect(answered).toBe(false);
    target.current = statusOf('paused', 'finishing_by_owner');
    target.finishing();
    expect(await answer).toMatchObject({ ok: true, status: { state: 'paused' } });
  });

  it('answers malformed requests with an error, keeps the connection, and keeps serving', async () => {
    const dir = await tempDir();
    const socket = await serve(dir);
    const lines = await exchange(
      socket.path,
      'not json\n{"cmd":"reboot"}\n{"cmd":"pause","until":"soon"}\n{"cmd":"status","x":1}\n[]\n{"cmd":"status"}\n',
      6,
    );
    const answers = lines.map((line) => JSON.parse(line));
    expect(answers[0]).toEqual({ ok: false, error: expect.stringMatching(/one line of JSON/) });
    expect(answers[1]).toEqual({ ok: false, error: expect.stringMatching(/invalid request.*cmd/) });
    expect(answers[2]).toEqual({ ok: false, error: expect.stringMatching(/until/) });
    expect(answers[3]).toEqual({ ok: false, error: expect.stringMatching(/x: unknown field/) });
    expect(answers[4].ok).toBe(false);
    expect(answers[5]).toMatchObject({ ok: true, status: { state: 'donating' } });
  });

  it('refuses an endless line and closes that connection only', async () => {
    const dir = await tempDir();
    const socket = await serve(dir);
    const [answer] = await exchange(socket.path, 'x'.repeat(MAX_REQUEST_BYTES + 10), 1);
    expect(JSON.parse(answer!)).toEqual({ ok: false, error: expect.stringMatching(/at most 4096 bytes/) });
    expect(await controlRequest(dir, { cmd: 'status' })).toMatchObject({ ok: true });
  });

  it('says what went wrong when the donor refuses a command', async () => {
    const dir = await tempDir();
    const target = new FakeTarget();
    target.resume = () => {
      throw new Error('the donor is stopping');
    };
    await serve(dir, target);
    expect(await controlRequest(dir, { cmd: 'resume' })).toEqual({
      ok: false,
      error: 'the donor is stopping',
    });
  });

  it('is for its owner only: the directory 0700, the socket 0600', async () => {
    const dir = join(await tempDir(), 'donor');
    const socket = await serve(dir);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const info = await stat(socket.path);
    expect(info.isSocket()).toBe(true);
    expect(info.mode & 0o777).toBe(0o600);
  });

  it('replaces a socket file a dead process left, and removes its own on close', async () => {
    const dir = await tempDir();
    const path = controlSocketPath(dir);
    // A socket file nobody listens on, as a killed donor leaves it (SIGKILL unlinks nothing).
    spawnSync(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect((await stat(path)).isSocket()).toBe(true);
    const socket = await ControlSocket.listen(dir, new FakeTarget());
    expect(await controlRequest(dir, { cmd: 'status' })).toMatchObject({ ok: true });
    await socket.close();
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses to take over a socket a live donor answers on', async () => {
    const dir = await tempDir();
    await serve(dir);
    await expect(ControlSocket.listen(dir, new FakeTarget())).rejects.toThrow(/another donor answers/);
  });
});

describe('controlRequest', () => {
  it('says no donor is running when there is no socket, or nobody answers', async () => {
    const dir = await tempDir();
    await expect(controlRequest(dir, { cmd: 'status' })).rejects.toBeInstanceOf(DonorNotRunningError);
    await writeFile(controlSocketPath(dir), '');
    await expect(controlRequest(dir, { cmd: 'status' })).rejects.toThrow(/no donor is running/);
  });
});
