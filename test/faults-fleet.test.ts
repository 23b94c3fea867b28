// Faults of a fleet, with real processes: three gateways (`node dist/cli.js gateway`) sharing a
// private PostgreSQL and a private nats-server, three runners spread over them, 300 jobs submitted
// round the gateways with callbacks. One gateway is SIGKILLed with its share in flight, and the
// nats-server is restarted while the rest run. Every accepted job must finish exactly once, its
// result stored and its callback delivered at least once, and the killed gateway's runners must
// work on for the survivors. Its own file: it takes a minute or two (a fresh container per job).
import { describe, expect, it } from 'vitest';
import { type Child, Cluster, finishedJobs, rest, submit, uniqueRunnerName } from './faults-cluster.js';
import { CallbackSink, type Delivery } from './helpers.js';
import { startNatsServer } from './nats-server.js';
import { startPostgres } from './postgres-server.js';

interface Listed {
  id: string;
  status: string;
  attempt: number;
  runner_id: string;
  stdout: string;
}

/** Every job of a task, as a gateway lists them from the shared store. */
async function listTask(base: string, task: string): Promise<Listed[]> {
  const listed: Listed[] = [];
  for (let cursor: string | null = null; ; ) {
    const page = await rest(
      base,
      'GET',
      `/execute?task_id=${task}&limit=500${cursor ? `&cursor=${cursor}` : ''}`,
    );
    expect(page.status).toBe(200);
    listed.push(...page.body.jobs);
    cursor = page.body.next_cursor;
    if (!cursor) break;
  }
  return listed;
}

describe('a fleet of three gateways on PostgreSQL and NATS', () => {
  it('loses no job when a gateway is killed and the nats-server restarts mid-run', {
    timeout: 420_000,
  }, async () => {
    const total = 300;
    const task = 'fleet-300';
    const postgres = await startPostgres();
    const nats = await startNatsServer();
    const cluster = await Cluster.create();
    const sink = await CallbackSink.start();
    const fleetEnv = {
      CODEEXEC_STORE: await postgres.createDatabase(),
      CODEEXEC_BUS: nats.url,
      // Short leases, so the survivors claim the dead one's work within seconds.
      CODEEXEC_GATEWAY_TTL_MS: '1500',
    };
    const gateways = [];
    for (let i = 0; i < 3; i++) gateways.push(await cluster.gateway(fleetEnv));
    const urls = gateways.map((gw) => gw.url);
    // Each runner dials its own gateway first, the others after it.
    const names = [0, 1, 2].map((i) => uniqueRunnerName(`fleet-${i}`));
    const runners: Child[] = await Promise.all(
      names.map((name, i) =>
        cluster.runner(name, [...urls.slice(i), ...urls.slice(0, i)].join(','), {
          CODEEXEC_RECONNECT_MIN_MS: '50',
          CODEEXEC_RECONNECT_MAX_MS: '300',
        }),
      ),
    );
    const distinct = (received: readonly Delivery[]) => new Set(received.map((d) => d.body.id)).size;

    // Accepted: every 202. Round the gateways, in batches, so the queues are long at the kill.
    const ids: string[] = [];
    for (let start = 0; start < total; start += 30) {
      const batch = Array.from({ length: Math.min(30, total - start) }, (_, k) => start + k);
      ids.push(
        ...(await Promise.all(
          batch.map((i) => submit(urls[i % 3]!, sink, { code: `print(${i})`, task_id: task })),
        )),
      );
    }
    expect(new Set(ids).size).toBe(total);

    const [victim, ...survivors] = gateways;
    await sink.until((received) => distinct(received) >= 45);
    await cluster.kill(victim!.child);
    const atKill = distinct(sink.received);
    // Its runner works on for a survivor: it connects again (a second "connected" line).
    await runners[0]!.waitFor(
      (line) =>
        line.msg === 'connected to the gateway' &&
        urls.slice(1).some((url) => String(line.gateway).includes(new URL(url).host)),
    );
    await sink.until((received) => distinct(received) >= atKill + 45);
    await nats.stop();
    await nats.start();
    await sink.until((received) => distinct(received) === total);

    // The store, read through each survivor: every accepted job there once, done, its own output.
    for (const gw of survivors) {
      const listed = await listTask(gw!.url, task);
      expect(listed.map((job) => job.id).sort()).toEqual([...ids].sort());
      const notDone = listed.filter((job) => job.status !== 'done');
      expect(notDone, JSON.stringify(notDone.slice(0, 5))).toEqual([]);
    }
    for (const [i, id] of ids.entries()) {
      const result = await rest(survivors[i % 2]!.url, 'GET', `/execute/${id}/result`);
      expect(result.body.stdout, id).toBe(`${i}\n`);
    }

    // Callbacks: at least one each, and every one of a job telling the same end.
    const outcomes = new Map<string, Set<string>>();
    for (const delivery of sink.received) {
      const { id, status, stdout, attempt, finished_at } = delivery.body;
      const seen = outcomes.get(id) ?? new Set<string>();
      seen.add(JSON.stringify({ status, stdout, attempt, finished_at }));
      outcomes.set(id, seen);
    }
    const duplicated = [...outcomes].filter(([, seen]) => seen.size > 1);
    expect(duplicated).toEqual([]);
    expect(outcomes.size).toBe(total);

    // The runners' logs: a job ran to completion twice only if its result went to the killed
    // gateway in its last moments (at most one per slot of the runners connected to it).
    const completions = new Map<string, number>();
    for (const id of finishedJobs(...runners)) completions.set(id, (completions.get(id) ?? 0) + 1);
    const reRun = [...completions].filter(([, count]) => count > 1);
    expect(reRun.length).toBeLessThanOrEqual(2);
    const claimed = survivors.flatMap((gw) =>
      gw!.child.matching((line) => line.msg === 'took over the work of a gateway that is gone'),
    );
    expect(claimed.length).toBeGreaterThan(0);
    console.log(
      JSON.stringify({
        accepted: total,
        finished: outcomes.size,
        duplicated: duplicated.length,
        lost: total - outcomes.size,
        re_run: reRun.length,
        callbacks: sink.received.length,
        at_kill: atKill,
        taken_over: claimed.reduce((sum, line) => sum + Number(line.jobs ?? 0), 0),
      }),
    );
  });
});
