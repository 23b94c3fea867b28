// End to end: the client socket /execute/ws with a real gateway, runner and Docker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../gateway/gateway.js';
import type { Runner } from '../runner/runner.js';
import { startGateway, startRunner, untilJob } from './helpers.js';
import { TestSocket } from './ws-client.js';

let url: string;
let gateway: Gateway;
let runner: Runner;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  const gw = await startGateway();
  url = `${gw.url}/execute/ws`;
  gateway = gw.gateway;
  runner = await startRunner({ gatewayUrl: gw.url, token: gw.token, slots: 3, maxWarm: 3 });
  await runner.connected();
});

afterAll(() => {
  for (const socket of sockets) socket.close();
});

async function open(): Promise<TestSocket> {
  const socket = await TestSocket.open(url);
  sockets.push(socket);
  return socket;
}

describe('/execute/ws', () => {
  it('streams output as the program produces it, then the whole result', async () => {
    const ws = await open();
    ws.send({
      type: 'execute',
      id: 'slow',
      lang: 'python',
      code: 'import sys, time\nsys.stdout.write("first\\n")\nsys.stdout.flush()\ntime.sleep(1.5)\nprint("second")',
    });
    const accepted = await ws.next((f) => f.type === 'accepted');
    expect(accepted.job_id).toEqual(expect.any(String));
    const started = await ws.next((f) => f.type === 'started');
    expect(started).toMatchObject({ id: 'slow', runner: runner.name, attempt: 1 });
    const first = await ws.next((f) => f.type === 'stdout');
    expect(first).toMatchObject({ id: 'slow', data: 'first\n' });
    const exit = await ws.next((f) => f.type === 'exit');
    expect(exit.at - first.at).toBeGreaterThan(1000);
    expect(exit.result).toMatchObject({ status: 'done', exit_code: 0, stdout: 'first\nsecond\n' });
    expect(exit.dropped_chunks).toBe(0);
    const chunks = ws.of('slow').filter((f) => f.type === 'stdout' || f.type === 'stderr');
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_c, i) => i));
  });

  it('multiplexes many jobs on one socket, each by its own id', async () => {
    const ws = await open();
    const ids = Array.from({ length: 6 }, (_v, i) => `job-${i}`);
    for (const [i, id] of ids.entries()) {
      ws.send({
        type: 'execute',
        id,
        lang: i % 2 ? 'js' : 'python',
        code: i % 2 ? `console.log(${i})` : `print(${i})`,
      });
    }
    const exits = await Promise.all(ids.map((id) => ws.next((f) => f.type === 'exit' && f.id === id)));
    expect(exits.map((e) => e.result.stdout)).toEqual(ids.map((_id, i) => `${i}\n`));
  });

  it('cancels a running job', async () => {
    const ws = await open();
    ws.send({
      type: 'execute',
      id: 'forever',
      lang: 'python',
      code: 'import time\nprint("up", flush=True)\ntime.sleep(60)',
    });
    await ws.next((f) => f.type === 'stdout' && f.id === 'forever');
    ws.send({ type: 'cancel', id: 'forever' });
    const exit = await ws.next((f) => f.type === 'exit' && f.id === 'forever', 10_000);
    expect(exit.result).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
  });

  it.each([
    { name: 'not JSON', frame: '{nope', code: 'invalid_frame', id: null },
    { name: 'an unknown type', frame: { type: 'dance', id: 'x' }, code: 'invalid_frame', id: 'x' },
    {
      name: 'a missing field',
      frame: { type: 'execute', id: 'm', lang: 'python' },
      code: 'invalid_frame',
      id: 'm',
    },
    {
      name: 'an unknown language',
      frame: { type: 'execute', id: 'l', lang: 'cobol', code: '' },
      code: 'unknown_language',
      id: 'l',
    },
    {
      name: 'a cancel of an unknown id',
      frame: { type: 'cancel', id: 'ghost' },
      code: 'not_found',
      id: 'ghost',
    },
    {
      name: 'stdin for a job that is not interactive',
      frame: { type: 'stdin', id: 'ghost2', data: 'x' },
      code: 'not_found',
      id: 'ghost2',
    },
    {
      name: 'a limit above the maximum',
      frame: { type: 'execute', id: 'big', lang: 'python', code: '', limits: { memory_bytes: 2 ** 40 } },
      code: 'limit_exceeded',
      id: 'big',
    },
  ])('answers $name with an error frame ($code) and keeps the socket', async ({ frame, code, id }) => {
    const ws = await open();
    ws.send(frame);
    const error = await ws.next((f) => f.type === 'error');
    expect(error).toMatchObject({ code, id });
    expect(error.message).toEqual(expect.any(String));
    ws.send({ type: 'execute', id: 'after', lang: 'python', code: 'print("ok")' });
    const exit = await ws.next((f) => f.type === 'exit' && f.id === 'after');
    expect(exit.result.stdout).toBe('ok\n');
  });

  it('refuses a second job with an id still in use', async () => {
    const ws = await open();
    ws.send({ type: 'execute', id: 'same', lang: 'python', code: 'import time\ntime.sleep(1)' });
    ws.send({ type: 'execute', id: 'same', lang: 'python', code: 'print(2)' });
    const error = await ws.next((f) => f.type === 'error');
    expect(error).toMatchObject({ id: 'same', code: 'duplicate_id' });
    const exit = await ws.next((f) => f.type === 'exit' && f.id === 'same');
    expect(exit.result.status).toBe('done');
  });

  it('a slow reader: live chunks past the high-water mark are dropped and counted, exit still comes', async () => {
    const ws = await open();
    const tcp = (ws.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    ws.send({
      type: 'execute',
      id: 'flood',
      lang: 'python',
      code: 'import sys, time\ntime.sleep(0.5)\nline = "x" * 1023 + "\\n"\nfor _ in range(7 * 1024):\n    sys.stdout.write(line)',
      limits: { output_bytes: 8 * 1024 * 1024 },
    });
    const { job_id } = await ws.next((f) => f.type === 'accepted' && f.id === 'flood');
    // Stop reading: the kernel's buffers fill, then the gateway's send buffer grows.
    tcp.pause();
    await untilJob(gateway, job_id, 'ended');
    tcp.resume();
    const exit = await ws.next((f) => f.type === 'exit' && f.id === 'flood');
    // The store keeps the first MiB of each stream (CODEEXEC_STORE_OUTPUT_BYTES); the run itself was whole.
    expect(exit.result).toMatchObject({ status: 'done', reason: 'exited', exit_code: 0 });
    expect(exit.result.stdout).toBe('x'.repeat(1023).concat('\n').repeat(1024));
    expect(exit.dropped_chunks).toBeGreaterThan(0);
    const seqs = ws
      .of('flood')
      .filter((f) => f.type === 'stdout')
      .map((f) => f.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    // The gateway keeps serving this socket afterwards.
    ws.send({ type: 'execute', id: 'after-flood', lang: 'python', code: 'print("still here")' });
    const after = await ws.next((f) => f.type === 'exit' && f.id === 'after-flood');
    expect(after.result.stdout).toBe('still here\n');
  }, 120_000);

  it('closes a socket that sends a frame over the size limit', async () => {
    const ws = await open();
    ws.send({ type: 'execute', id: 'huge', lang: 'python', code: 'x'.repeat(2 * 1024 * 1024) });
    const closed = await ws.closed;
    // ws answers 1009 (message too big); uWebSockets.js drops the connection (1006).
    expect([1006, 1009]).toContain(closed.code);
  });
});
