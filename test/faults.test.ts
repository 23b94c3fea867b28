// Faults with real processes: gateways and runners spawned from dist/cli.js, killed with SIGKILL.
// Jobs report their end to a loopback callback server, so the tests await events, not timers.
import { describe, expect, it } from 'vitest';
import { Cluster, endOf, finishedJobs, rest, sleepy, submit, uniqueRunnerName } from './faults-cluster.js';
import { CallbackSink, containersOf } from './helpers.js';

describe('a runner killed in the middle of a job', () => {
  it('the job finishes on the other runner, as attempt 2', async () => {
    const cluster = await Cluster.create();
    const sink = await CallbackSink.start();
    const gw = await cluster.gateway();
    const names = [uniqueRunnerName('fa-1'), uniqueRunnerName('fa-2')];
    const runners = await Promise.all(names.map((name) => cluster.runner(name, gw.url)));

    const id = await submit(gw.url, sink, { code: sleepy(2, 'survived') });
    const accepted = await Promise.race(
      runners.map((runner, i) =>
        runner.waitFor((line) => line.msg === 'job accepted' && line.job_id === id).then(() => i),
      ),
    );
    await cluster.kill(runners[accepted]!);

    const end = await endOf(sink, id);
    expect(end.body).toMatchObject({
      status: 'done',
      attempt: 2,
      runner_id: names[1 - accepted],
      stdout: 'start\nsurvived\n',
    });
    expect(finishedJobs(runners[accepted]!)).not.toContain(id);
  });

  it.each<{ name: string; env: Record<string, string>; message: RegExp }>([
    { name: 'with no attempts left', env: { CODEEXEC_MAX_ATTEMPTS: '1' }, message: /during attempt 1$/ },
    {
      name: 'with attempts left but no runner to take them',
      env: { CODEEXEC_QUEUE_TIMEOUT_MS: '1000' },
      message: /no other runner took the job within 1 s/,
    },
  ])('with no other runner, it fails with runner_lost after the lease ($name)', async ({ env, message }) => {
    const cluster = await Cluster.create();
    const sink = await CallbackSink.start();
    const gw = await cluster.gateway({ ...env, CODEEXEC_LEASE_MS: '1000' });
    const runner = await cluster.runner(uniqueRunnerName('fa-only'), gw.url);

    const id = await submit(gw.url, sink, { code: sleepy(30, 'never') });
    await runner.waitFor((line) => line.msg === 'job accepted' && line.job_id === id);
    const killedAt = Date.now();
    await cluster.kill(runner);

    const end = await endOf(sink, id);
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(1000);
    expect(end.body).toMatchObject({ status: 'failed', attempt: 1, error: { code: 'runner_lost' } });
    expect(end.body.error.message).toMatch(message);
    const result = await rest(gw.url, 'GET', `/execute/${id}/result`);
    expect(result.body).toMatchObject({ status: 'failed', error: { code: 'runner_lost' } });
  });
});

describe('a gateway killed and restarted on the same data and port', () => {
  it('keeps every accepted job: finished ones keep results, held and queued ones run; the runner comes back', async () => {
    const cluster = await Cluster.create();
    const sink = await CallbackSink.start();
    const first = await cluster.gateway();
    const name = uniqueRunnerName('fb');
    const runner = await cluster.runner(name, first.url);

    const finished = await Promise.all(
      [0, 1, 2].map((i) => submit(first.url, sink, { code: `print(${i})` })),
    );
    await sink.until((all) => finished.every((id) => all.some((d) => d.body.id === id)));
    // Two long jobs take both slots; four more wait in the queue behind them.
    const running = await Promise.all(['a', 'b'].map((t) => submit(first.url, sink, { code: sleepy(2, t) })));
    const queued = await Promise.all(
      [3, 4, 5, 6].map((i) => submit(first.url, sink, { code: `print(${i})` })),
    );
    await Promise.all(
      running.map((id) => runner.waitFor((l) => l.msg === 'job accepted' && l.job_id === id)),
    );

    const from = runner.lines.length;
    await cluster.kill(first.child);
    const second = await cluster.gateway({}, first.port);
    // The runner finds the new gateway by itself (reconnect with backoff) and reports what it holds.
    await runner.waitFor((line) => line.msg === 'connected to the gateway', { from });

    const all = [...finished, ...running, ...queued];
    await sink.until((received) => all.every((id) => received.some((d) => d.body.id === id)));
    for (const [i, id] of finished.entries()) {
      const result = await rest(second.url, 'GET', `/execute/${id}/result`);
      expect(result.body).toMatchObject({ status: 'done', stdout: `${i}\n`, attempt: 1 });
    }
    for (const id of [...running, ...queued]) {
      const result = await rest(second.url, 'GET', `/execute/${id}/result`);
      expect(result.body).toMatchObject({ status: 'done', exit_code: 0, runner_id: name });
    }
    // The jobs it held across the restart kept their first attempt: none ran twice.
    for (const id of running) {
      expect((await rest(second.url, 'GET', `/execute/${id}/status`)).body.attempt).toBe(1);
    }
    const completions = finishedJobs(runner);
    expect(completions.sort()).toEqual([...all].sort());
  });
});

describe('a runner restarted under the same name', () => {
  it('removes the containers its killed process left', async () => {
    const cluster = await Cluster.create();
    const sink = await CallbackSink.start();
    const gw = await cluster.gateway();
    const name = uniqueRunnerName('fc');
    const runner = await cluster.runner(name, gw.url);
    const id = await submit(gw.url, sink, { code: sleepy(60, 'never') });
    await runner.waitFor((line) => line.msg === 'job accepted' && line.job_id === id);

    await cluster.kill(runner);
    const orphans = containersOf(name);
    // At least the job's container outlives a SIGKILLed runner (warm ones may too).
    expect(orphans.length).toBeGreaterThanOrEqual(1);

    await cluster.runner(name, gw.url);
    const now = containersOf(name);
    expect(now.filter((container) => orphans.includes(container))).toEqual([]);
    await rest(gw.url, 'DELETE', `/execute/${id}`);
  });
});
