// Drain with real processes and real signals: the first SIGTERM finishes what the runner holds
// and takes nothing new; a second one cancels and leaves, and the job is re-queued at once.
import { describe, expect, it } from 'vitest';
import { Cluster, endOf, rest, sleepy, submit, uniqueRunnerName } from './faults-cluster.js';
import { CallbackSink, containersOf } from './helpers.js';

const draining = (line: { msg: string }) => line.msg.startsWith('draining:');

describe('runner drain', () => {
  it('first SIGTERM: the held job finishes and is reported, no new job is offered, then it exits 0', async () => {
    const cluster = await Cluster.create();
    const sink = await CallbackSink.start();
    const gw = await cluster.gateway();
    const name = uniqueRunnerName('dr-1');
    const runner = await cluster.runner(name, gw.url);
    const held = await submit(gw.url, sink, { code: sleepy(2, 'finished while draining') });
    await runner.waitFor((line) => line.msg === 'job accepted' && line.job_id === held);

    runner.kill('SIGTERM');
    await runner.waitFor(draining);
    await gw.child.waitFor((line) => line.msg === 'runner draining' && line.runner_id === name);
    // The only runner is draining: the job must ask to wait for another one (else: no_runner).
    const refused = await rest(gw.url, 'POST', '/execute/async', { lang: 'python', code: 'print("x")' });
    expect(refused).toMatchObject({ status: 503, body: { error: { code: 'no_runner' } } });
    const later = await submit(gw.url, sink, { code: 'print("after")', queue_timeout_ms: 120_000 });

    const end = await endOf(sink, held);
    expect(end.body).toMatchObject({ status: 'done', attempt: 1, runner_id: name });
    expect(end.body.stdout).toBe('start\nfinished while draining\n');
    expect(await runner.exited).toEqual({ code: 0, signal: null });
    expect(containersOf(name)).toEqual([]);
    // Never offered to the draining runner: still queued, untouched by it.
    expect((await rest(gw.url, 'GET', `/execute/${later}/status`)).body).toMatchObject({
      status: 'queued',
      attempt: 0,
    });
    expect(runner.matching((line) => line.job_id === later)).toEqual([]);
    expect(
      gw.child.matching((line) => line.msg === 'runner rejected a job' && line.job_id === later),
    ).toEqual([]);

    const next = uniqueRunnerName('dr-2');
    await cluster.runner(next, gw.url);
    expect((await endOf(sink, later)).body).toMatchObject({
      status: 'done',
      stdout: 'after\n',
      runner_id: next,
    });
  });

  it('second SIGTERM: cancels the held job and exits; the gateway re-queues it at once, not after the lease', async () => {
    const cluster = await Cluster.create();
    const sink = await CallbackSink.start();
    // A lease far longer than the test may wait: only the immediate re-queue can pass.
    const gw = await cluster.gateway({ CODEEXEC_LEASE_MS: '60000' });
    const name = uniqueRunnerName('dr-3');
    const runner = await cluster.runner(name, gw.url);
    const id = await submit(gw.url, sink, { code: sleepy(3, 'ran again') });
    await runner.waitFor((line) => line.msg === 'job accepted' && line.job_id === id);
    const other = uniqueRunnerName('dr-4');
    await cluster.runner(other, gw.url);

    runner.kill('SIGTERM');
    await runner.waitFor(draining);
    const stoppedAt = Date.now();
    runner.kill('SIGTERM');
    expect(await runner.exited).toEqual({ code: 0, signal: null });
    expect(containersOf(name)).toEqual([]);

    const end = await endOf(sink, id);
    expect(end.body).toMatchObject({
      status: 'done',
      attempt: 2,
      runner_id: other,
      stdout: 'start\nran again\n',
    });
    expect(Date.now() - stoppedAt).toBeLessThan(30_000);
    // The cut-short run was never reported as the job's result.
    const lines = runner.matching((line) => line.msg === 'job finished' && line.job_id === id);
    expect(lines).toEqual([expect.objectContaining({ reported: false })]);
  });
});
