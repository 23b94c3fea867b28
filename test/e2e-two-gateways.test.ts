// End to end: two gateways sharing a PostgreSQL store and a NATS bus (private servers on loopback,
// test/postgres-server.ts and test/nats-server.ts), a real runner and Docker. A job runs on a runner
// connected to gateway A; a client of gateway B follows its output live, cancels it, and reads
// its result; B, which has no runner, hands the jobs its clients submit to A, and relays their
// output, input and cancel; each gateway lists the runners of both (GET /runners) and counts the fleet
// (/metrics); a gateway restarted on the same database still has every job.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../gateway/gateway.js';
import type { Runner } from '../runner/runner.js';
import type { RunnersResponse } from '../shared/index.js';
import { startGateway, startRunner, untilJob } from './helpers.js';
import { startNatsServer } from './nats-server.js';
import { startPostgres } from './postgres-server.js';
import { TestSocket } from './ws-client.js';

let a: { gateway: Gateway; token: string; url: string };
let b: { gateway: Gateway; url: string };
let database: string;
let bus: string;
let runner: Runner;
const sockets: TestSocket[] = [];

const FLEET_TTL_MS = 3_000;
const LINES = 'import time\nfor i in range(20):\n    print(f"line {i}", flush=True)\n    time.sleep(0.1)\n';
const EXPECTED = Array.from({ length: 20 }, (_v, i) => `line ${i}\n`).join('');

beforeAll(async () => {
  const postgres = await startPostgres();
  const nats = await startNatsServer();
  database = await postgres.createDatabase();
  bus = nats.url;
  // Beats every second: what one gateway shows of itself reaches the other within one.
  a = await startGateway({ store: database, bus, fleetTtlMs: FLEET_TTL_MS });
  b = await startGateway({ store: database, bus, runnerTokens: [a.token], fleetTtlMs: FLEET_TTL_MS });
  runner = await startRunner({ gatewayUrl: a.url, token: a.token, languages: ['python'] });
  await runner.connected();
}, 120_000);

afterAll(() => {
  for (const socket of sockets) socket.close();
});

async function open(url: string): Promise<TestSocket> {
  const socket = await TestSocket.open(`${url}/execute/ws`);
  sockets.push(socket);
  return socket;
}

describe('two gateways, one PostgreSQL, one NATS', () => {
  it("a client of B follows a job running on A's runner, live, to its end", async () => {
    const onA = await open(a.url);
    onA.send({ type: 'execute', id: 'job', lang: 'python', code: LINES });
    const { job_id: jobId } = await onA.next((f) => f.type === 'accepted');
    await onA.next((f) => f.type === 'stdout');
    const onB = await open(b.url);
    onB.send({ type: 'resume', id: 'follow', job_id: jobId });
    expect(await onB.next((f) => f.type === 'resumed')).toMatchObject({ job_id: jobId, status: 'running' });
    // B keeps no output of A's job: it says so, then relays what A's runner writes from now on.
    expect(await onB.next((f) => f.type === 'gap')).toMatchObject({ from_seq: 0, to_seq: null });
    const live = await onB.next((f) => f.type === 'stdout');
    const exit = await onB.next((f) => f.type === 'exit');
    expect(exit.result).toMatchObject({ status: 'done', exit_code: 0, stdout: EXPECTED });
    // Live: the chunks B relayed arrived before the end, and are the tail of the real output.
    expect(live.at).toBeLessThan(exit.at);
    const relayed = onB.frames.filter((f) => f.type === 'stdout').map((f) => f.data as string);
    expect(EXPECTED.endsWith(relayed.join(''))).toBe(true);
    expect(relayed.length).toBeGreaterThan(0);
  }, 60_000);

  it("B answers for A's jobs from the shared store, and cancels one through the bus", async () => {
    const submitted = await fetch(`${a.url}/execute/async`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ lang: 'python', code: 'import time\nprint("up", flush=True)\ntime.sleep(30)' }),
    });
    const { id } = (await submitted.json()) as { id: string };
    await untilJob(a.gateway, id, 'running');
    // A's events come as it changes the job; its write reaches PostgreSQL a moment later.
    await a.gateway.store.flush();
    const status = await (await fetch(`${b.url}/execute/${id}/status`)).json();
    expect(status).toMatchObject({ id, status: 'running', runner_id: runner.name });
    const started = Date.now();
    const cancelled = await fetch(`${b.url}/execute/${id}`, { method: 'DELETE' });
    expect(cancelled.status).toBe(200);
    expect(await cancelled.json()).toMatchObject({ id, status: 'cancelled' });
    expect(Date.now() - started).toBeLessThan(10_000);
    const result = await (await fetch(`${a.url}/execute/${id}/result`)).json();
    expect(result).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
  }, 60_000);

  it("a client of B, which has no runner, runs jobs on A's runner: live output, stdin, cancel, REST", async () => {
    const onB = await open(b.url);
    onB.send({
      type: 'execute',
      id: 'echo',
      lang: 'python',
      code: 'import sys\nprint("ready", flush=True)\nprint("got " + sys.stdin.readline().strip())',
      interactive: true,
    });
    await onB.next((f) => f.type === 'accepted' && f.id === 'echo');
    // Handed to A, whose runner takes it: B relays what happens to its client.
    expect(await onB.next((f) => f.type === 'started' && f.id === 'echo')).toMatchObject({
      runner: runner.name,
    });
    await onB.next((f) => f.type === 'stdout' && f.id === 'echo' && String(f.data).includes('ready'));
    onB.send({ type: 'stdin', id: 'echo', data: 'hello\n' });
    const echoed = await onB.next((f) => f.type === 'exit' && f.id === 'echo');
    expect(echoed.result).toMatchObject({ status: 'done', stdout: 'ready\ngot hello\n' });

    onB.send({
      type: 'execute',
      id: 'sleep',
      lang: 'python',
      code: 'import time\nprint("up", flush=True)\ntime.sleep(30)',
    });
    await onB.next((f) => f.type === 'stdout' && f.id === 'sleep');
    onB.send({ type: 'cancel', id: 'sleep' });
    const cancelled = await onB.next((f) => f.type === 'exit' && f.id === 'sleep', 10_000);
    expect(cancelled.result).toMatchObject({ status: 'cancelled' });

    const ran = await fetch(`${b.url}/execute/sync`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ lang: 'python', code: 'print(6*7)' }),
    });
    expect(ran.status).toBe(200);
    expect(await ran.json()).toMatchObject({ status: 'done', stdout: '42\n', runner_id: runner.name });
  }, 60_000);

  it('GET /runners on A lists the runners of A and of B, each with its gateway; /metrics counts both', async () => {
    const onB = await startRunner({ gatewayUrl: b.url, token: a.token, languages: ['python'] });
    await onB.connected();
    const runners = async (url: string) => (await (await fetch(`${url}/runners`)).json()) as RunnersResponse;
    const idOf = async (url: string) => (await runners(url)).gateways.find((g) => g.self)!.id;
    const [idA, idB] = [await idOf(a.url), await idOf(b.url)];
    expect(idA).not.toBe(idB);
    // B shows its new runner to the fleet at its next beat.
    await expect
      .poll(async () => (await runners(a.url)).runners.map((r) => [r.name, r.gateway]), { timeout: 10_000 })
      .toEqual([
        [runner.name, idA],
        [onB.name, idB],
      ]);
    const answer = await runners(a.url);
    expect(answer.partial).toBe(false);
    expect(answer.gateways).toEqual([
      { id: idA, url: a.url, runners: 1, expires_at: expect.any(String), self: true },
      { id: idB, url: b.url, runners: 1, expires_at: expect.any(String), self: false },
    ]);
    expect(answer.runners[1]).toMatchObject({ identity: onB.name, tier: 'trusted', languages: ['python'] });
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    expect(metrics).toMatch(/^codeexec_fleet_gateways 2$/m);
    expect(metrics).toContain(`\ncodeexec_fleet_runners{gateway="${idA}"} 1\n`);
    expect(metrics).toContain(`\ncodeexec_fleet_runners{gateway="${idB}"} 1\n`);
  }, 60_000);

  it('a gateway started again on the same database has every job', async () => {
    const ran = await fetch(`${a.url}/execute/sync`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ lang: 'python', code: 'print(6*7)', task_id: 'kept' }),
    });
    const { id } = (await ran.json()) as { id: string };
    await b.gateway.close();
    const again = await startGateway({ store: database, bus, runnerTokens: [a.token] });
    const listed = (await (await fetch(`${again.url}/execute?task_id=kept`)).json()) as {
      jobs: { id: string; status: string }[];
    };
    expect(listed.jobs).toEqual([expect.objectContaining({ id, status: 'done' })]);
    const result = await (await fetch(`${again.url}/execute/${id}/result`)).json();
    expect(result).toMatchObject({ stdout: '42\n', exit_code: 0 });
  }, 60_000);
});
