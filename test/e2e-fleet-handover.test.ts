// End to end: a gateway of a fleet shut down gracefully (a rolling restart) with work in flight.
// Two gateways share PostgreSQL and NATS; one runner, told both URLs, is connected to A and runs
// A's job while a second waits in A's queue. A closes: the runner moves to B on its goaway and
// reports the job it holds, B claims it (A left the fleet) and stores its result from that same
// run, then B claims and runs the queued job. Nothing runs twice, nothing is lost.
import { describe, expect, it } from 'vitest';
import { startGateway, startRunner, untilJob } from './helpers.js';
import { startNatsServer } from './nats-server.js';
import { startPostgres } from './postgres-server.js';

const SLOW = 'import time\nprint("start", flush=True)\ntime.sleep(3)\nprint("end")';

async function submit(base: string, code: string): Promise<string> {
  const response = await fetch(`${base}/execute/async`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ lang: 'python', code }),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

describe('a gateway of a fleet that shuts down with work in flight', () => {
  it('hands its running and queued jobs to the other, which finishes them once', async () => {
    const postgres = await startPostgres();
    const nats = await startNatsServer();
    const store = await postgres.createDatabase();
    const options = { store, bus: nats.url, fleetTtlMs: 3_000, goawayReconnectMs: 100 };
    const a = await startGateway(options);
    const b = await startGateway({ ...options, runnerTokens: [a.token] });
    const runner = await startRunner({
      gatewayUrl: `${a.url},${b.url}`,
      token: a.token,
      languages: ['python'],
      slots: 1,
    });
    await runner.connected();
    const running = await submit(a.url, SLOW);
    await untilJob(a.gateway, running, 'running');
    const queued = await submit(a.url, 'print("next")');

    await a.gateway.close();
    const result = async (id: string) => (await fetch(`${b.url}/execute/${id}/result`)).json();
    await expect.poll(async () => (await result(running)).status, { timeout: 30_000 }).toBe('done');
    await expect.poll(async () => (await result(queued)).status, { timeout: 30_000 }).toBe('done');
    // The same run finished (its first attempt, its whole output), and the queued one ran once.
    expect(await result(running)).toMatchObject({
      stdout: 'start\nend\n',
      attempt: 1,
      runner_id: runner.name,
    });
    expect(await result(queued)).toMatchObject({ stdout: 'next\n', attempt: 1, runner_id: runner.name });
  }, 90_000);
});
