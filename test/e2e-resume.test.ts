// End to end: resumable output with a real gateway, runner and Docker. A client's TCP connection
// is reset mid-job (test/tcp-relay.ts: RST, no WebSocket close), the client comes back with the
// last seq it saw, and what it got before plus what it gets after is the job's whole output, byte
// for byte: over the client socket (resume), over server-sent events (Last-Event-ID), and with
// `codeexec run`, which does it by itself. Also: goaway to clients when the gateway stops.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../gateway/gateway.js';
import { post, startGateway, startRunner, tempDir, untilJob } from './helpers.js';
import { tcpRelay } from './tcp-relay.js';
import { type Frame, TestSocket } from './ws-client.js';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const LINES = 60;

/** 60 numbered lines over ~3 s, a stderr line now and then, each written as it is made. */
const PROGRAM = [
  'import sys, time',
  `for i in range(${LINES}):`,
  '    sys.stdout.write(f"line {i:02d} " + "x" * 50 + "\\n"); sys.stdout.flush()',
  '    if i % 7 == 3: sys.stderr.write(f"err {i}\\n"); sys.stderr.flush()',
  '    time.sleep(0.05)',
].join('\n');
const STDOUT = Array.from(
  { length: LINES },
  (_v, i) => `line ${String(i).padStart(2, '0')} ${'x'.repeat(50)}\n`,
).join('');
const STDERR = Array.from({ length: LINES }, (_v, i) => i)
  .filter((i) => i % 7 === 3)
  .map((i) => `err ${i}\n`)
  .join('');

let gw: { gateway: Gateway; token: string; url: string };

beforeAll(async () => {
  gw = await startGateway();
  const runner = await startRunner({ gatewayUrl: gw.url, token: gw.token, languages: ['python'], slots: 2 });
  await runner.connected();
}, 120_000);

/** Chunks in seq order: no seq twice, each stream's text joined. */
function assemble(chunks: { stream: string; seq: number; data: string }[]) {
  const sorted = [...chunks].sort((a, b) => a.seq - b.seq);
  const seqs = sorted.map((c) => c.seq);
  expect(new Set(seqs).size).toBe(seqs.length);
  const text = (stream: string) =>
    sorted
      .filter((c) => c.stream === stream)
      .map((c) => c.data)
      .join('');
  return { seqs, stdout: text('stdout'), stderr: text('stderr') };
}

const chunksOf = (frames: Frame[]) =>
  frames
    .filter((f) => f.type === 'stdout' || f.type === 'stderr')
    .map((f) => ({ stream: f.type as string, seq: f.seq as number, data: f.data as string }));

describe('resume over the client socket', () => {
  it('gives back exactly the rest after a reset connection: the whole output, byte for byte', async () => {
    const relay = await tcpRelay(gw.url);
    const first = await TestSocket.open(`${relay.url}/execute/ws`);
    first.send({ type: 'execute', id: 'job', lang: 'python', code: PROGRAM });
    const { job_id: jobId } = await first.next((f) => f.type === 'accepted');
    // Ten chunks in: the job is mid-way when the connection dies.
    await first.next((f) => f.type === 'stdout' && f.data.startsWith('line 09'));
    await relay.cut();
    const closed = await first.closed;
    expect(closed.code).toBe(1006); // no close frame: the connection was reset
    const before = chunksOf(first.frames);
    const lastSeq = Math.max(...before.map((c) => c.seq));
    expect(before.length).toBeLessThan(LINES);

    const second = await TestSocket.open(`${gw.url}/execute/ws`);
    second.send({ type: 'resume', id: 'again', job_id: jobId, after_seq: lastSeq });
    const resumed = await second.next((f) => f.type === 'resumed');
    expect(resumed).toMatchObject({ id: 'again', job_id: jobId, attempt: 1 });
    const exit = await second.next((f) => f.type === 'exit');
    second.close();
    const after = chunksOf(second.frames);
    expect(Math.min(...after.map((c) => c.seq))).toBe(lastSeq + 1);
    const whole = assemble([...before, ...after]);
    expect(whole.seqs).toEqual(whole.seqs.map((_s, i) => i)); // none missing
    expect(whole.stdout).toBe(STDOUT);
    expect(whole.stderr).toBe(STDERR);
    expect(exit.result).toMatchObject({ status: 'done', exit_code: 0, stdout: STDOUT, stderr: STDERR });
    expect(exit.dropped_chunks).toBe(0);
    expect(second.frames.some((f) => f.type === 'gap')).toBe(false);
  }, 60_000);

  it('replays a finished job from any seq, then its exit', async () => {
    const ws = await TestSocket.open(`${gw.url}/execute/ws`);
    ws.send({ type: 'execute', id: 'done', lang: 'python', code: PROGRAM });
    const { job_id: jobId } = await ws.next((f) => f.type === 'accepted');
    await ws.next((f) => f.type === 'exit');
    ws.send({ type: 'resume', id: 'all', job_id: jobId });
    ws.send({ type: 'resume', id: 'tail', job_id: jobId, after_seq: 40 });
    const all = await ws.next((f) => f.type === 'exit' && f.id === 'all');
    await ws.next((f) => f.type === 'exit' && f.id === 'tail');
    ws.close();
    expect(assemble(chunksOf(ws.of('all'))).stdout).toBe(STDOUT);
    expect(all.result.stdout).toBe(STDOUT);
    const tail = chunksOf(ws.of('tail'));
    expect(Math.min(...tail.map((c) => c.seq))).toBe(41);
    expect(assemble([...chunksOf(ws.of('done')).filter((c) => c.seq <= 40), ...tail]).stdout).toBe(STDOUT);
  }, 60_000);

  it('answers a resume of an unknown job with not_found and keeps serving', async () => {
    const ws = await TestSocket.open(`${gw.url}/execute/ws`);
    ws.send({ type: 'resume', id: 'x', job_id: 'no-such-job', after_seq: 3 });
    expect(await ws.next((f) => f.type === 'error')).toMatchObject({ id: 'x', code: 'not_found' });
    ws.send({ type: 'execute', id: 'ok', lang: 'python', code: 'print(1)' });
    expect((await ws.next((f) => f.type === 'exit')).result.stdout).toBe('1\n');
    ws.close();
  }, 60_000);
});

/** Server-sent events from a response body: each event's name, id and data. */
async function* events(body: ReadableStream<Uint8Array>) {
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
      const fields = Object.fromEntries(
        block
          .split('\n')
          .filter((line) => !line.startsWith(':'))
          .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
      );
      if (fields.event !== undefined) yield fields as { event: string; id?: string; data: string };
    }
  }
}

describe('GET /execute/{id}/output (server-sent events)', () => {
  it('resumes with Last-Event-ID after a reset connection: the whole output, byte for byte', async () => {
    const relay = await tcpRelay(gw.url);
    const { body: accepted } = await post(`${gw.url}/execute/async`, { lang: 'python', code: PROGRAM });
    const jobId = accepted.id as string;
    const first = await fetch(`${relay.url}/execute/${jobId}/output`);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const chunks: { stream: string; seq: number; data: string }[] = [];
    let lastId = '';
    let cut: Promise<void> | null = null;
    try {
      for await (const event of events(first.body!)) {
        const { seq, data } = JSON.parse(event.data) as { seq: number; data: string };
        chunks.push({ stream: event.event, seq, data });
        lastId = event.id!;
        if (data.startsWith('line 09')) cut = relay.cut();
      }
    } catch {
      // The reset ends the body with an error: what a client sees of a dead connection.
    }
    await cut;
    expect(chunks.length).toBeLessThan(LINES);

    const second = await fetch(`${gw.url}/execute/${jobId}/output`, { headers: { 'last-event-id': lastId } });
    let exit: Record<string, unknown> | null = null;
    for await (const event of events(second.body!)) {
      if (event.event === 'exit') {
        exit = JSON.parse(event.data) as Record<string, unknown>;
        continue;
      }
      expect(event.event).not.toBe('gap');
      const { seq, data } = JSON.parse(event.data) as { seq: number; data: string };
      expect(event.id).toBe(String(seq));
      chunks.push({ stream: event.event, seq, data });
    }
    const whole = assemble(chunks);
    expect(whole.seqs).toEqual(whole.seqs.map((_s, i) => i));
    expect(whole.stdout).toBe(STDOUT);
    expect(whole.stderr).toBe(STDERR);
    expect(exit).toMatchObject({ id: jobId, status: 'done', stdout: STDOUT });
  }, 60_000);

  it('answers an unknown job with 404 and a bad after_seq with 400', async () => {
    const missing = await fetch(`${gw.url}/execute/nope/output`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found' } });
    const { body } = await post(`${gw.url}/execute/async`, { lang: 'python', code: 'print(2)' });
    const bad = await fetch(`${gw.url}/execute/${body.id}/output?after_seq=abc`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_request' } });
    await untilJob(gw.gateway, body.id, 'ended');
  }, 60_000);
});

describe('codeexec run', () => {
  it('resumes by itself after its connection is reset, and prints the whole output once', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build it with \`npx tsup\` (npm test does)`);
    const relay = await tcpRelay(gw.url);
    const dir = await tempDir();
    const file = join(dir, 'lines.py');
    await writeFile(file, PROGRAM);
    const child: ChildProcessWithoutNullStreams = spawn(
      process.execPath,
      [CLI, 'run', file, '--stdin', '/dev/null'],
      {
        env: { PATH: process.env.PATH ?? '', CODEEXEC_GATEWAY_URL: relay.url },
      },
    );
    let stdout = '';
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let cut: Promise<void> | null = null;
    child.stdout.on('data', (data: Buffer) => {
      stdout += data.toString();
      if (cut === null && stdout.includes('line 09')) cut = relay.cut();
    });
    child.stderr.on('data', (data: Buffer) => {
      stderr += data.toString();
    });
    const code = await exited;
    expect(cut).not.toBeNull();
    expect(stderr).toMatch(/resuming job [\w-]+ in \d+ ms/);
    expect(relay.connections).toBeGreaterThanOrEqual(2);
    expect(code).toBe(0);
    expect(stdout).toBe(STDOUT);
    expect(stderr.replace(/codeexec run: .*\n/g, '')).toBe(STDERR);
  }, 60_000);
});

describe('goaway', () => {
  it('tells clients when to come back before the gateway closes their sockets with 1001', async () => {
    const other = await startGateway({ goawayReconnectMs: 500 });
    const ws = await TestSocket.open(`${other.url}/execute/ws`);
    await other.gateway.close();
    const closed = await ws.closed;
    expect(closed).toEqual({ code: 1001, reason: 'gateway going away' });
    const goaway = ws.frames.find((f) => f.type === 'goaway');
    expect(goaway).toMatchObject({ type: 'goaway', id: null, message: expect.any(String) });
    expect(goaway!.reconnect_after_ms).toBeGreaterThanOrEqual(500);
    expect(goaway!.reconnect_after_ms).toBeLessThanOrEqual(1000);
  });
});
