// End to end: sessions on /execute/ws — one sandbox kept for a socket, executions sharing its
// workspace one at a time — with a real gateway, runner and Docker, on both transports.
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { CallbackSink, post, startGateway, startRunner } from './helpers.js';
import { type Frame, TestSocket } from './ws-client.js';

const sockets: TestSocket[] = [];
afterAll(() => {
  for (const socket of sockets) socket.close();
});

async function boot(transport: 'uws' | 'ws', runner: { slots?: number; maxWarm?: number } = {}) {
  // The callback sink of the slot test listens on loopback, which callbacks may reach only when allowed.
  const gw = await startGateway({ transport, callbacks: { allow: ['127.0.0.1/32'] } });
  const started = await startRunner({ gatewayUrl: gw.url, token: gw.token, slots: 3, maxWarm: 2, ...runner });
  await started.connected();
  return { gw, runner: started };
}

async function connect(base: string): Promise<TestSocket> {
  const ws = await TestSocket.open(`${base}/execute/ws`);
  sockets.push(ws);
  return ws;
}

const stdoutOf = (ws: TestSocket, id: string) =>
  ws
    .of(id)
    .filter((f) => f.type === 'stdout')
    .map((f) => f.data)
    .join('');

const exitOf = (ws: TestSocket, id: string, timeoutMs?: number) =>
  ws.next((f) => f.type === 'exit' && f.id === id, timeoutMs);

/** Docker's clock in seconds, a second early: `docker events --since` replays from there. */
const eventsFrom = () => String(Math.floor(Date.now() / 1000) - 1);

/**
 * Resolves true once docker reports the container whose id starts with `hostname` (a sandbox's
 * hostname) destroyed, since `since` (eventsFrom() taken before whatever removes it): the event is
 * replayed if it came first. False after timeoutMs.
 */
function destroyed(hostname: string, since: string, timeoutMs = 15_000): Promise<boolean> {
  const args = ['events', '--since', since, '--filter', 'type=container', '--filter', 'event=destroy'];
  const events = spawn('docker', [...args, '--format', '{{.ID}}'], { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve) => {
    let ids = '';
    const done = (gone: boolean) => {
      clearTimeout(timer);
      events.kill();
      resolve(gone);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    events.stdout.on('data', (chunk: Buffer) => {
      ids += chunk.toString('utf8');
      if (ids.split('\n').some((id) => id.startsWith(hostname))) done(true);
    });
    events.on('error', () => done(false));
  });
}

const statusOf = async (base: string, id: string): Promise<Frame> =>
  (await fetch(`${base}/execute/${id}/status`)).json() as Promise<Frame>;

const HOSTNAME = 'import socket; print(socket.gethostname())';

describe.each(['uws', 'ws'] as const)('sessions over %s', (transport) => {
  it('keeps files and installed modules between executions, in one sandbox, and removes it on close', async () => {
    const { gw } = await boot(transport);
    const ws = await connect(gw.url);
    ws.send({ type: 'session_open', id: 's', lang: 'python' });
    // Sent before the session opened: they wait for it, then run in order.
    ws.send({
      type: 'execute',
      id: 'write',
      session: 's',
      code: [
        'import socket',
        'open("notes.txt", "w").write("kept between executions")',
        'open("helper.py", "w").write("def greet(name): return f\\"hello {name}\\"\\n")',
        'print(socket.gethostname())',
      ].join('\n'),
    });
    ws.send({
      type: 'execute',
      id: 'read',
      session: 's',
      lang: 'python',
      code: `import socket, helper\nprint(open("notes.txt").read())\nprint(helper.greet("Ada"))\n${HOSTNAME}`,
    });
    const opened = await ws.next((f) => f.type === 'session_opened' && f.id === 's');
    expect(opened).toMatchObject({ lang: 'python', idle_timeout_ms: 300_000 });
    expect(opened.session_id).toMatch(/^[0-9a-f-]{36}$/);
    const first = await exitOf(ws, 'write');
    const second = await exitOf(ws, 'read');
    expect(first.result).toMatchObject({ status: 'done', exit_code: 0 });
    expect(second.result).toMatchObject({ status: 'done', exit_code: 0 });
    const [host] = first.result.stdout.trim().split('\n');
    expect(second.result.stdout).toBe(`kept between executions\nhello Ada\n${host}\n`);
    // The second ran after the first had ended.
    expect(ws.frames.indexOf(first)).toBeLessThan(
      ws.frames.findIndex((f) => f.id === 'read' && f.type === 'started'),
    );
    // Each execution is a stored job that names its session.
    const accepted = ws.of('read').find((f) => f.type === 'accepted')!;
    const stored = await (await fetch(`${gw.url}/execute/${accepted.job_id}/status`)).json();
    expect(stored).toMatchObject({ session_id: opened.session_id, lang: 'python', status: 'done' });

    const closing = eventsFrom();
    ws.send({ type: 'session_close', id: 's' });
    expect(await ws.next((f) => f.type === 'session_closed' && f.id === 's')).toMatchObject({
      reason: 'closed',
    });
    expect(await destroyed(host ?? '-', closing)).toBe(true);
    ws.send({ type: 'execute', id: 'late', session: 's', code: 'print(1)' });
    expect(await ws.next((f) => f.type === 'error' && f.id === 'late')).toMatchObject({ code: 'not_found' });
    if (transport === 'uws') await ws.transcript('execute-ws-session');
  });
});

describe('sessions', () => {
  it('a killed execution (wall time, cancel) ends its processes but keeps the session and its files', async () => {
    const { gw } = await boot('uws');
    const ws = await connect(gw.url);
    ws.send({ type: 'session_open', id: 's', lang: 'python', limits: { wall_time_ms: 20_000 } });
    ws.send({
      type: 'execute',
      id: 'loop',
      session: 's',
      limits: { wall_time_ms: 1500 },
      code: [
        'import subprocess',
        'p = subprocess.Popen(["sleep", "1000"])',
        'open("bg.pid", "w").write(str(p.pid))',
        'print("looping", flush=True)',
        'while True: pass',
      ].join('\n'),
    });
    const loop = await exitOf(ws, 'loop');
    expect(loop.result).toMatchObject({ status: 'done', reason: 'wall_time' });
    ws.send({
      type: 'execute',
      id: 'check',
      session: 's',
      code: 'import os\npid = open("bg.pid").read()\nprint("alive" if os.path.exists(f"/proc/{pid}") else "gone")',
    });
    expect((await exitOf(ws, 'check')).result).toMatchObject({ status: 'done', stdout: 'gone\n' });

    ws.send({
      type: 'execute',
      id: 'sleep',
      session: 's',
      code: 'import time\nprint("zz", flush=True)\ntime.sleep(60)',
    });
    await ws.next((f) => f.type === 'stdout' && f.id === 'sleep');
    ws.send({ type: 'cancel', id: 'sleep' });
    expect((await exitOf(ws, 'sleep')).result).toMatchObject({ status: 'cancelled' });
    ws.send({ type: 'execute', id: 'after', session: 's', code: 'print(open("bg.pid").read().isdigit())' });
    expect((await exitOf(ws, 'after')).result).toMatchObject({ status: 'done', stdout: 'True\n' });
  });

  it('runs interactive executions and signals inside a session', async () => {
    const { gw } = await boot('uws');
    const ws = await connect(gw.url);
    ws.send({ type: 'session_open', id: 's', lang: 'python' });
    ws.send({
      type: 'execute',
      id: 'ask',
      session: 's',
      interactive: true,
      code: 'name = input("name? ")\nopen("name.txt", "w").write(name)\nprint(f"hi {name}")',
    });
    await ws.next(() => stdoutOf(ws, 'ask').includes('name? '));
    ws.send({ type: 'stdin', id: 'ask', data: 'Grace\n' });
    expect((await exitOf(ws, 'ask')).result).toMatchObject({ stdout: 'name? hi Grace\n', exit_code: 0 });
    ws.send({
      type: 'execute',
      id: 'wait',
      session: 's',
      code: 'import time\nprint(open("name.txt").read(), flush=True)\ntime.sleep(60)',
    });
    await ws.next(() => stdoutOf(ws, 'wait').includes('Grace'));
    ws.send({ type: 'signal', id: 'wait', signal: 'SIGTERM' });
    expect((await exitOf(ws, 'wait')).result).toMatchObject({ status: 'done', signal: 'SIGTERM' });
  });

  it('ends an idle session after its idle timeout, and a closed socket ends its sessions', async () => {
    const { gw } = await boot('uws');
    const ws = await connect(gw.url);
    const opening = eventsFrom();
    ws.send({ type: 'session_open', id: 'idle', lang: 'python', idle_timeout_ms: 1000 });
    ws.send({ type: 'execute', id: 'host', session: 'idle', code: HOSTNAME });
    const host = (await exitOf(ws, 'host')).result.stdout.trim();
    const closed = await ws.next((f) => f.type === 'session_closed' && f.id === 'idle', 10_000);
    expect(closed).toMatchObject({ reason: 'idle_timeout' });
    expect(closed.at - (ws.of('host').find((f) => f.type === 'exit')?.at ?? 0)).toBeGreaterThanOrEqual(900);
    expect(await destroyed(host, opening)).toBe(true);

    const other = await connect(gw.url);
    other.send({ type: 'session_open', id: 'kept', lang: 'python' });
    other.send({ type: 'execute', id: 'host', session: 'kept', code: HOSTNAME });
    const keptHost = (await exitOf(other, 'host')).result.stdout.trim();
    // Still there: a second execution runs in it.
    other.send({ type: 'execute', id: 'again', session: 'kept', code: HOSTNAME });
    expect((await exitOf(other, 'again')).result.stdout.trim()).toBe(keptHost);
    const closing = eventsFrom();
    other.close();
    expect(await destroyed(keptHost, closing)).toBe(true);
  });

  it('survives hostile executions (fork bomb, memory bomb, output flood, planted link), then serves the next', async () => {
    const { gw } = await boot('uws');
    const ws = await connect(gw.url);
    ws.send({
      type: 'session_open',
      id: 's',
      lang: 'bash',
      limits: { memory_bytes: 64 * 1024 * 1024, pids: 32, wall_time_ms: 3000, output_bytes: 64 * 1024 },
    });
    const run = async (id: string, code: string) => {
      ws.send({ type: 'execute', id, session: 's', code });
      return (await exitOf(ws, id, 60_000)).result;
    };
    expect(await run('keep', 'echo kept > notes.txt; hostname')).toMatchObject({ exit_code: 0 });
    const bomb = await run('bomb', 'b() { b | b & }; b; sleep 10');
    expect(['wall_time', 'exited', 'output_limit']).toContain(bomb.reason);
    const memory = await run('memory', 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo "$x" | wc -c');
    expect(memory.reason).toBe('memory');
    const flood = await run('flood', 'yes flood');
    expect(flood.reason).toBe('output_limit');
    // A link planted in the workspace is the sandbox's own business: nothing host-side follows it.
    const link = await run('link', 'ln -s /etc/shadow out; mkdir -p out2; ln -s / out2/root; echo linked');
    expect(link).toMatchObject({ reason: 'exited', stdout: 'linked\n' });
    const after = await run('after', 'cat notes.txt; ls /proc | grep -c "^[0-9]"');
    const [kept, processes] = after.stdout.trim().split('\n');
    expect(kept).toBe('kept');
    // init, the keep-alive, the stop agent, the stage waiter, this script and its two children (7):
    // nothing the bomb forked is left.
    expect(Number(processes)).toBeLessThan(8);
    expect(ws.frames.some((f) => f.type === 'session_closed')).toBe(false);
  });

  it('holds a runner slot for its life: a job waits for it, and runs once the session closes', async () => {
    const { gw } = await boot('uws', { slots: 1, maxWarm: 1 });
    const ws = await connect(gw.url);
    ws.send({ type: 'session_open', id: 's', lang: 'python' });
    await ws.next((f) => f.type === 'session_opened');
    const sink = await CallbackSink.start();
    const queued = await post(`${gw.url}/execute/async`, {
      lang: 'python',
      code: 'print("after")',
      callback_url: sink.url,
    });
    expect(queued.status).toBe(202);
    // One whole execution in the session after the job was queued: whatever the gateway did with
    // the job meanwhile (on its submission, on the runner's frames), it did not place it.
    ws.send({ type: 'execute', id: 'busy', session: 's', code: 'print("in the session")' });
    expect((await exitOf(ws, 'busy')).result).toMatchObject({ stdout: 'in the session\n' });
    expect((await statusOf(gw.url, queued.body.id)).status).toBe('queued');
    ws.send({ type: 'session_close', id: 's' });
    // The job's end arrives as its callback: no polling.
    const [delivery] = await sink.until((received) => received.length > 0);
    expect(delivery?.body).toMatchObject({ id: queued.body.id, status: 'done', stdout: 'after\n' });
  });

  it('lists a session’s files with session_files, after a run and during one, running no job', async () => {
    const { gw } = await boot('uws');
    const ws = await connect(gw.url);
    const filesOf = (id: string) =>
      ws.next((f) => (f.type === 'session_files' || f.type === 'error') && f.id === id);
    ws.send({ type: 'session_open', id: 's', lang: 'python' });
    // Asked before the session opened: it waits for the open, and the workspace is empty.
    ws.send({ type: 'session_files', id: 'first', session: 's' });
    const opened = await ws.next((f) => f.type === 'session_opened' && f.id === 's');
    expect(await filesOf('first')).toEqual({
      type: 'session_files',
      id: 'first',
      session_id: opened.session_id,
      files: [],
      truncated: false,
      at: expect.any(Number),
    });
    const write = [
      'import os',
      'os.makedirs("data/raw")',
      'open("data/raw/b.csv", "w").write("1,2\\n")',
      'open("notes.txt", "w").write("kept between runs")',
      'os.symlink("/etc/passwd", "passwd")',
      'print("written")',
    ].join('\n');
    ws.send({ type: 'execute', id: 'write', session: 's', code: write });
    expect((await exitOf(ws, 'write')).result).toMatchObject({ status: 'done', stdout: 'written\n' });
    ws.send({ type: 'session_files', id: 'after', session: 's' });
    expect(await filesOf('after')).toMatchObject({
      type: 'session_files',
      session_id: opened.session_id,
      files: [
        { path: 'data/raw/b.csv', size: 4 },
        { path: 'main.py', size: Buffer.byteLength(write) },
        { path: 'notes.txt', size: 17 },
      ],
      truncated: false,
    });

    // While an execution runs: answered before it ends, with what it has written so far.
    ws.send({
      type: 'execute',
      id: 'busy',
      session: 's',
      code: 'import time\nopen("progress.log", "w").write("half")\nprint("up")\ntime.sleep(60)',
    });
    await ws.next(() => stdoutOf(ws, 'busy').includes('up\n'));
    ws.send({ type: 'session_files', id: 'during', session: 's' });
    const during = await filesOf('during');
    expect(during.files.map((file: { path: string }) => file.path)).toEqual([
      'data/raw/b.csv',
      'main.py',
      'notes.txt',
      'progress.log',
    ]);
    expect(ws.of('busy').some((f) => f.type === 'exit')).toBe(false);
    ws.send({ type: 'cancel', id: 'busy' });
    expect((await exitOf(ws, 'busy')).result).toMatchObject({ status: 'cancelled' });

    // Errors: the same not_found as an execute into an unknown session; ids shared with jobs.
    ws.send({ type: 'session_files', id: 'nowhere', session: 'missing' });
    ws.send({ type: 'execute', id: 'nowhere-run', session: 'missing', code: 'print(1)' });
    const unknown = await filesOf('nowhere');
    const unknownRun = await ws.next((f) => f.type === 'error' && f.id === 'nowhere-run');
    expect(unknown).toMatchObject({
      type: 'error',
      code: 'not_found',
      message: 'no open session missing on this socket',
    });
    expect(unknownRun).toMatchObject({ code: unknown.code, message: unknown.message });
    ws.send({ type: 'session_files', id: 's', session: 's' });
    expect(await ws.next((f) => f.type === 'error' && f.id === 's')).toMatchObject({ code: 'duplicate_id' });

    // Nothing of it ran as a job: the store holds the two executions only.
    const listed = await (await fetch(`${gw.url}/execute?limit=50`)).json();
    expect(listed.jobs.map((job: { status: string }) => job.status).sort()).toEqual(['cancelled', 'done']);
    await ws.transcript('execute-ws-session-files');

    // A session that ended answers like an unknown one; a listing pending then fails clearly.
    ws.send({ type: 'session_close', id: 's' });
    await ws.next((f) => f.type === 'session_closed' && f.id === 's');
    ws.send({ type: 'session_files', id: 'late', session: 's' });
    expect(await filesOf('late')).toMatchObject({ type: 'error', code: 'not_found' });
  });

  it('answers bad session frames with precise errors and keeps serving', async () => {
    const { gw } = await boot('uws');
    const ws = await connect(gw.url);
    const errorOf = (id: string | null) => ws.next((f) => f.type === 'error' && f.id === id);
    ws.send({ type: 'execute', id: 'nosession', session: 'missing', code: 'print(1)' });
    expect(await errorOf('nosession')).toMatchObject({ code: 'not_found' });
    ws.send({ type: 'execute', id: 'nolang', code: 'print(1)' });
    expect(await errorOf('nolang')).toMatchObject({ code: 'invalid_frame' });
    ws.send({ type: 'session_open', id: 'cobol', lang: 'cobol' });
    expect(await errorOf('cobol')).toMatchObject({ code: 'unknown_language' });
    ws.send({ type: 'session_open', id: 'huge', lang: 'python', limits: { memory_bytes: 2 ** 40 } });
    expect(await errorOf('huge')).toMatchObject({ code: 'limit_exceeded' });
    ws.send({ type: 'session_open', id: 'short', lang: 'python', idle_timeout_ms: 10 });
    expect(await errorOf('short')).toMatchObject({ code: 'invalid_frame' });
    ws.send({ type: 'session_close', id: 'never' });
    expect(await errorOf('never')).toMatchObject({ code: 'not_found' });

    ws.send({ type: 'session_open', id: 's', lang: 'python', limits: { memory_bytes: 128 * 1024 * 1024 } });
    ws.send({ type: 'session_open', id: 's', lang: 'python' });
    expect(await errorOf('s')).toMatchObject({ code: 'duplicate_id' });
    ws.send({ type: 'execute', id: 'go', session: 's', lang: 'go', code: 'package main' });
    expect(await errorOf('go')).toMatchObject({ code: 'invalid_request' });
    ws.send({
      type: 'execute',
      id: 'mem',
      session: 's',
      code: 'print(1)',
      limits: { memory_bytes: 64 * 1024 * 1024 },
    });
    expect(await errorOf('mem')).toMatchObject({ code: 'invalid_request' });
    for (const id of ['t1', 't2', 't3']) ws.send({ type: 'session_open', id, lang: 'python' });
    ws.send({ type: 'session_open', id: 't4', lang: 'python' });
    expect(await errorOf('t4')).toMatchObject({ code: 'too_many_sessions' });

    // Still serving, and the session's memory limit is the sandbox's.
    ws.send({
      type: 'execute',
      id: 'ok',
      session: 's',
      code: 'print(open("/sys/fs/cgroup/memory/memory.limit_in_bytes").read().strip())',
    });
    const ok = await exitOf(ws, 'ok');
    expect(ok.result).toMatchObject({ status: 'done', stdout: `${128 * 1024 * 1024}\n` });
    const closedFrames: Frame[] = [];
    for (const id of ['s', 't1', 't2', 't3']) ws.send({ type: 'session_close', id });
    for (const id of ['s', 't1', 't2', 't3']) {
      closedFrames.push(await ws.next((f) => f.type === 'session_closed' && f.id === id));
    }
    expect(closedFrames.every((f) => f.reason === 'closed')).toBe(true);
  });
});
