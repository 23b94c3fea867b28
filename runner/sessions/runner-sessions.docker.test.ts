// The Runner's session frames against a fake gateway (a ws server on port 0 that welcomes the
// runner and records every frame), with a real pool on the real engine: session_open → opened,
// executions offered with session_id, session_close, session_ended on a dead sandbox or a drain,
// sessions gone with the socket, the stage frame ahead of a compiled program's output, and
// session_files listings (hostile names, symlinks, truncation, during an execution).
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { silentLogger } from '../../shared/log.js';
import type { OfferedJob, RunnerToGateway } from '../../shared/runner-protocol.js';
import { createRunner } from '../create-runner.js';
import { RUNNER_LABEL } from '../pool/sandbox-pool.js';
import type { Runner } from '../runner.js';
import { FakeGateway } from '../runner-fake-gateway.js';

type Frame = RunnerToGateway;

const is =
  <K extends Frame['type']>(type: K, key: string, id: string) =>
  (frame: Frame): frame is Extract<Frame, { type: K }> =>
    frame.type === type && (frame as Record<string, unknown>)[key] === id;
const forJob = <K extends Frame['type']>(type: K, id: string) => is(type, 'job_id', id);
const forSession = <K extends Frame['type']>(type: K, id: string) => is(type, 'session_id', id);

function containerExists(idOrPrefix: string): boolean {
  return (
    execFileSync('docker', ['ps', '-aq', '--filter', `id=${idOrPrefix}`], { encoding: 'utf8' }).trim() !== ''
  );
}

function containersOf(name: string): string[] {
  return execFileSync('docker', ['ps', '-aq', '--filter', `label=${RUNNER_LABEL}=${name}`], {
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);
}

/** The frames' types, a run of output frames as one. */
function kinds(frames: Frame[]): string[] {
  return frames
    .map((frame) => frame.type)
    .filter((type, i, all) => type !== 'output' || all[i - 1] !== 'output');
}

let serial = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${++serial}`;

function offer(code: string, extra: Partial<OfferedJob> = {}): OfferedJob {
  return {
    id: unique('job'),
    lang: 'python',
    code,
    stdin: null,
    args: [],
    files: [],
    limits: null,
    compile_limits: null,
    interactive: false,
    session_id: null,
    ...extra,
  };
}

/** Prints the sandbox's hostname (its container id's first 12 characters) and stays a while. */
const HOSTNAME = 'import socket\nprint(socket.gethostname(), flush=True)';

async function startRunner(gateway: FakeGateway, name: string): Promise<Runner> {
  const runner = await createRunner({
    gatewayUrl: gateway.url,
    token: 'test-token',
    name,
    dataDir: mkdtempSync(join(tmpdir(), 'codeexec-runner-')),
    slots: 2,
    languages: ['python', 'go'],
    minWarm: 1,
    maxWarm: 2,
    minBackoffMs: 20,
    maxBackoffMs: 200,
    log: silentLogger,
  });
  await runner.start();
  await runner.connected();
  return runner;
}

describe('Runner sessions against a fake gateway', () => {
  let gateway: FakeGateway;
  let runner: Runner;
  const name = unique('runner-sessions-test');

  beforeAll(async () => {
    gateway = await FakeGateway.start();
    runner = await startRunner(gateway, name);
  });

  afterAll(async () => {
    await runner?.close();
    await gateway?.close();
    expect(containersOf(name)).toEqual([]);
  });

  /** Opens a session (closed when the test ends, even on failure) and waits for session_opened. */
  async function openSession(lang = 'python'): Promise<string> {
    const id = unique('session');
    onTestFinished(() => gateway.send({ type: 'session_close', session_id: id }));
    gateway.send({ type: 'session_open', session_id: id, lang, limits: null });
    const answer = await gateway.frame(
      (frame) =>
        (frame.type === 'session_opened' || frame.type === 'session_ended') && frame.session_id === id,
    );
    expect(answer).toEqual({ type: 'session_opened', session_id: id });
    return id;
  }

  /** Starts a long execution in the session; resolves once it printed its container's hostname. */
  async function startLong(session: string): Promise<{ long: OfferedJob; host: string }> {
    const long = offer(`${HOSTNAME}\nimport time\ntime.sleep(30)`, { session_id: session });
    gateway.send({ type: 'offer', job: long });
    // Output may come in pieces (the image runs python unbuffered): wait for the whole first line.
    const printed = () =>
      gateway
        .framesOf(long.id)
        .map((frame) => (frame.type === 'output' ? frame.data : ''))
        .join('');
    await gateway.frame(() => printed().includes('\n'));
    return { long, host: printed().trim() };
  }

  /** Offers a job and waits for its done. */
  async function runJob(job: OfferedJob) {
    gateway.send({ type: 'offer', job });
    return gateway.frame(forJob('done', job.id));
  }

  /** Asks for the session's files and waits for the answer. */
  async function listFiles(session: string) {
    const request = unique('list');
    gateway.send({ type: 'session_files', session_id: session, request_id: request });
    const answer = await gateway.frame(is('session_files_result', 'request_id', request));
    expect(answer.session_id).toBe(session);
    return answer;
  }

  it('lists the workspace’s regular files, whatever their names, and no symlink', async () => {
    const session = await openSession();
    const written = offer(
      [
        'import os',
        'open("notes.txt", "w").write("kept between runs")',
        'open("two\\nlines.txt", "w").write("x")',
        'open("tab\\there", "w").write("")',
        'os.makedirs("data/deep/er")',
        'open("data/deep/er/b.csv", "w").write("1,2\\n")',
        'os.mkdir("empty-dir")',
        // Latin-1 é: not UTF-8
        'open(b"caf\\xe9.txt", "wb").write(b"1234")',
        'os.symlink("/etc/passwd", "passwd-link")',
        'os.symlink("/", "root-link")',
        'os.symlink("notes.txt", "notes-link")',
        'print("written")',
      ].join('\n'),
      { session_id: session },
    );
    expect((await runJob(written)).result).toMatchObject({ reason: 'exited', stdout: 'written\n' });
    const listed = await listFiles(session);
    expect(listed.error).toBeUndefined();
    expect(listed.truncated).toBe(false);
    expect(listed.files).toEqual([
      { path: 'caf\uFFFD.txt', size: 4 },
      { path: 'data/deep/er/b.csv', size: 4 },
      { path: 'main.py', size: Buffer.byteLength(written.code) },
      { path: 'notes.txt', size: 17 },
      { path: 'tab\there', size: 0 },
      { path: 'two\nlines.txt', size: 1 },
    ]);
    // An unknown session is answered with an error, not silence.
    const unknown = await listFiles('no-such-session');
    expect(unknown).toMatchObject({ files: [], error: { code: 'session_closed' } });
  });

  it('lists while an execution runs, and says truncated past 1000 files or 256 KiB of names', async () => {
    const session = await openSession();
    const { long } = await startLong(session);
    expect((await listFiles(session)).files.map((file) => file.path)).toEqual(['main.py']);
    gateway.send({ type: 'cancel', job_id: long.id });
    await gateway.frame(forJob('done', long.id));

    const many = offer(
      'import os\nos.mkdir("many")\nfor i in range(1005): open(f"many/{i:04}", "w").close()',
      {
        session_id: session,
      },
    );
    expect((await runJob(many)).result).toMatchObject({ reason: 'exited' });
    const listed = await listFiles(session);
    expect(listed.truncated).toBe(true);
    expect(listed.files).toHaveLength(1000);
    // Sorted first, then cut: main.py comes after every many/….
    expect(listed.files[0]?.path).toBe('main.py');
    expect(listed.files[1]?.path).toBe('many/0000');

    // ~500 bytes a record: 600 of them are more than the 256 KiB read, fewer than 1000 files.
    const longNames = offer(
      [
        'import os, shutil',
        'shutil.rmtree("many")',
        'd, n = "d" * 240, "n" * 240',
        'os.mkdir(d)',
        'for i in range(600): open(f"{d}/{i:04}{n}", "w").close()',
      ].join('\n'),
      { session_id: session },
    );
    expect((await runJob(longNames)).result).toMatchObject({ reason: 'exited' });
    const capped = await listFiles(session);
    expect(capped.truncated).toBe(true);
    expect(capped.files.length).toBeGreaterThan(400);
    expect(capped.files.length).toBeLessThan(600);
    expect(capped.files.every((file) => file.path === 'main.py' || file.path.length === 240 + 1 + 244)).toBe(
      true,
    );
  });

  it('runs executions in the session that share files, streams them, and closes without session_ended', async () => {
    const session = await openSession();
    const first = offer(`open("notes.txt", "w").write("from the first")\n${HOSTNAME}`, {
      session_id: session,
    });
    const done = await runJob(first);
    const host = done.result?.stdout.trim() ?? '';
    expect(done.result).toMatchObject({ reason: 'exited', exit_code: 0 });
    const frames = gateway.framesOf(first.id);
    expect(frames[0]?.type).toBe('accept');
    expect(frames.at(-1)).toBe(done);
    // Live output between them, in sequence (python may write the newline as a chunk of its own).
    const outputs = frames.slice(1, -1).map((frame) => (frame.type === 'output' ? frame : null));
    expect(outputs.map((frame) => frame?.seq)).toEqual(outputs.map((_, index) => index));
    expect(outputs.map((frame) => frame?.data).join('')).toBe(`${host}\n`);
    const second = offer(`print(open("notes.txt").read())\n${HOSTNAME}`, { session_id: session });
    expect((await runJob(second)).result?.stdout).toBe(`from the first\n${host}\n`);
    expect(containerExists(host)).toBe(true);

    gateway.send({ type: 'session_close', session_id: session });
    await expect.poll(() => containerExists(host), { timeout: 10_000 }).toBe(false);
    expect(gateway.frames.some(forSession('session_ended', session))).toBe(false);
    // The closed session takes no more executions.
    const late = offer('print(1)', { session_id: session });
    gateway.send({ type: 'offer', job: late });
    expect(await gateway.frame(forJob('reject', late.id))).toMatchObject({
      reason: expect.stringMatching(/no session/),
    });
  });

  it('rejects an offer for an unknown session, and one for a busy session', async () => {
    const session = await openSession();
    const long = offer('import time\nprint("up", flush=True)\ntime.sleep(30)', { session_id: session });
    gateway.send({ type: 'offer', job: long });
    await gateway.frame(forJob('output', long.id));
    const busy = offer('print(1)', { session_id: session });
    const unknown = offer('print(1)', { session_id: 'no-such-session' });
    gateway.send({ type: 'offer', job: busy });
    gateway.send({ type: 'offer', job: unknown });
    expect(await gateway.frame(forJob('reject', busy.id))).toMatchObject({
      reason: expect.stringMatching(/running another execution/),
    });
    expect(await gateway.frame(forJob('reject', unknown.id))).toMatchObject({
      reason: expect.stringMatching(/no session no-such-session/),
    });
    // A cancel ends only the execution: the session runs the next one.
    gateway.send({ type: 'cancel', job_id: long.id });
    expect((await gateway.frame(forJob('done', long.id))).result).toMatchObject({ reason: 'cancelled' });
    const next = offer('print("next")', { session_id: session });
    expect((await runJob(next)).result?.stdout).toBe('next\n');
  });

  it('answers session_ended for a language it lacks and when every slot is taken', async () => {
    const cobol = unique('session');
    gateway.send({ type: 'session_open', session_id: cobol, lang: 'cobol', limits: null });
    expect(await gateway.frame(forSession('session_ended', cobol))).toMatchObject({
      code: 'unknown_language',
      message: expect.stringMatching(/cobol/),
    });
    // Two slots: two sessions hold them both, for their whole life.
    const first = await openSession();
    await openSession();
    const third = unique('session');
    gateway.send({ type: 'session_open', session_id: third, lang: 'python', limits: null });
    expect(await gateway.frame(forSession('session_ended', third))).toMatchObject({
      code: 'runner_rejected',
      message: expect.stringMatching(/no free slot/),
    });
    const pooled = offer('print(1)');
    gateway.send({ type: 'offer', job: pooled });
    expect(await gateway.frame(forJob('reject', pooled.id))).toMatchObject({ reason: 'no free slot' });
    // A closed session's slot is free at once, as the gateway counts it (its sandbox goes meanwhile).
    gateway.send({ type: 'session_close', session_id: first });
    await openSession();
  });

  it('cancels the running execution on session_close: its done still comes, the sandbox goes', async () => {
    const session = await openSession();
    const { long, host } = await startLong(session);
    gateway.send({ type: 'session_close', session_id: session });
    const done = await gateway.frame(forJob('done', long.id));
    expect(done.result).toMatchObject({ reason: 'cancelled', stdout: `${host}\n` });
    await expect.poll(() => containerExists(host), { timeout: 10_000 }).toBe(false);
    expect(gateway.frames.some(forSession('session_ended', session))).toBe(false);
  });

  it("sends session_ended (sandbox_failed) when the session's container dies", async () => {
    const session = await openSession();
    const done = await runJob(offer(HOSTNAME, { session_id: session }));
    const host = done.result?.stdout.trim() ?? '';
    execFileSync('docker', ['kill', host], { stdio: 'ignore' });
    expect(await gateway.frame(forSession('session_ended', session))).toMatchObject({
      code: 'sandbox_failed',
      message: expect.stringMatching(/died/),
    });
    await expect.poll(() => containerExists(host), { timeout: 10_000 }).toBe(false);
    const after = offer('print(1)', { session_id: session });
    gateway.send({ type: 'offer', job: after });
    await gateway.frame(forJob('reject', after.id));
  });

  it("sends the stage frame after a compile, before the program's output; none for python", async () => {
    const go = offer('package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("compiled") }\n', {
      lang: 'go',
    });
    expect((await runJob(go)).result).toMatchObject({ stdout: 'compiled\n', compile: { exit_code: 0 } });
    const frames = gateway.framesOf(go.id);
    expect(kinds(frames)).toEqual(['accept', 'stage', 'output', 'done']);
    expect(frames[1]).toMatchObject({ stage: 'run', compile: { reason: 'exited', exit_code: 0 } });
    // In a session too.
    const session = await openSession('go');
    const inSession = offer('package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("again") }\n', {
      lang: 'go',
      session_id: session,
    });
    await runJob(inSession);
    expect(kinds(gateway.framesOf(inSession.id))).toEqual(['accept', 'stage', 'output', 'done']);
    const python = offer('print("interpreted")');
    await runJob(python);
    expect(kinds(gateway.framesOf(python.id))).toEqual(['accept', 'output', 'done']);
  });

  it('ends every session when the socket drops, and never reports their executions as held', async () => {
    const session = await openSession();
    const { long, host } = await startLong(session);
    const hellos = gateway.hellos.length;
    gateway.drop();
    await expect.poll(() => gateway.hellos.length, { timeout: 10_000 }).toBe(hellos + 1);
    expect(gateway.hellos.at(-1)?.held).not.toContain(long.id);
    await expect.poll(() => containerExists(host), { timeout: 10_000 }).toBe(false);
    // The new socket hears nothing of the old socket's session; the freed slot takes a new one.
    await openSession();
    await openSession();
    expect(gateway.frames.some(forJob('done', long.id))).toBe(false);
    expect(gateway.frames.some(forSession('session_ended', session))).toBe(false);
  });
});

describe('Runner sessions when the runner drains', () => {
  it('ends an idle session at once and a busy one after its execution, both shutting_down', async () => {
    const gateway = await FakeGateway.start();
    const name = unique('runner-drain-test');
    const runner = await startRunner(gateway, name);
    onTestFinished(async () => {
      await runner.close();
      await gateway.close();
      expect(containersOf(name)).toEqual([]);
    });
    const open = async (id: string) => {
      gateway.send({ type: 'session_open', session_id: id, lang: 'python', limits: null });
      await gateway.frame(forSession('session_opened', id));
    };
    const idle = unique('session');
    const busy = unique('session');
    await open(idle);
    await open(busy);
    const job = offer('import time\nprint("started", flush=True)\ntime.sleep(1.5)\nprint("finished")', {
      session_id: busy,
    });
    gateway.send({ type: 'offer', job });
    await gateway.frame(forJob('output', job.id));

    const drained = runner.drain();
    await gateway.frame((frame) => frame.type === 'drain');
    expect(await gateway.frame(forSession('session_ended', idle))).toMatchObject({ code: 'shutting_down' });
    const late = unique('session');
    gateway.send({ type: 'session_open', session_id: late, lang: 'python', limits: null });
    expect(await gateway.frame(forSession('session_ended', late))).toMatchObject({ code: 'runner_rejected' });

    const ended = await gateway.frame(forSession('session_ended', busy));
    expect(ended).toMatchObject({ code: 'shutting_down' });
    const done = await gateway.frame(forJob('done', job.id));
    expect(done.result).toMatchObject({ reason: 'exited', stdout: 'started\nfinished\n' });
    // Its done comes first, then the session's end.
    expect(gateway.frames.indexOf(done)).toBeLessThan(gateway.frames.indexOf(ended));
    await drained;
    expect(runner.state).toBe('stopped');
  });
});
