// Faults with real processes, at volume: 500 jobs across two runners, one of them SIGKILLed and
// restarted in the middle. Its own file: it takes a couple of minutes (a fresh container per job).
import { describe, expect, it } from 'vitest';
import { Cluster, finishedJobs, rest, submit, uniqueRunnerName } from './faults-cluster.js';
import { CallbackSink, type Delivery } from './helpers.js';

describe('500 jobs across two runners, one killed and restarted in the middle', () => {
  it('loses none and runs none twice to completion', { timeout: 420_000 }, async () => {
    const total = 500;
    const cluster = await Cluster.create();
    const sink = await CallbackSink.start();
    const gw = await cluster.gateway();
    const names = [uniqueRunnerName('fd-1'), uniqueRunnerName('fd-2')];
    const [victim, steady] = await Promise.all(names.map((name) => cluster.runner(name, gw.url)));
    const distinct = (received: readonly Delivery[]) => new Set(received.map((d) => d.body.id)).size;

    const ids: string[] = [];
    for (let start = 0; start < total; start += 50) {
      const batch = Array.from({ length: Math.min(50, total - start) }, (_, k) => start + k);
      ids.push(
        ...(await Promise.all(
          batch.map((i) => submit(gw.url, sink, { code: `print(${i})`, task_id: 'fd-500' })),
        )),
      );
    }
    await sink.until((received) => distinct(received) >= 150);
    const killedAt = Date.now();
    await cluster.kill(victim!);
    const atKill = distinct(sink.received);
    await sink.until((received) => distinct(received) >= atKill + 50);
    const restarted = await cluster.runner(names[0]!, gw.url);
    await sink.until((received) => distinct(received) === total);

    // The gateway's records: every job there, done, with its own output, at most one extra attempt.
    const listed: { id: string; status: string; attempt: number; runner_id: string; finished_at: string }[] =
      [];
    for (let cursor: string | null = null; ; ) {
      const page = await rest(
        gw.url,
        'GET',
        `/execute?task_id=fd-500&limit=500${cursor ? `&cursor=${cursor}` : ''}`,
      );
      listed.push(...page.body.jobs);
      cursor = page.body.next_cursor;
      if (!cursor) break;
    }
    expect(listed.map((job) => job.id).sort()).toEqual([...ids].sort());
    expect(listed.filter((job) => job.status !== 'done')).toEqual([]);
    const retried = listed.filter((job) => job.attempt !== 1);
    const why = gw.child.matching(
      (line) => retried.some((job) => job.id === line.job_id) || /runner/.test(line.msg),
    );
    // Only what the killed runner held (its slots) can have needed a second attempt.
    expect(retried.length, JSON.stringify({ retried, why }, null, 1)).toBeLessThanOrEqual(2);
    expect(retried.every((job) => job.attempt === 2)).toBe(true);
    for (const [i, id] of ids.entries()) {
      const result = await rest(gw.url, 'GET', `/execute/${id}/result`);
      expect(result.body.stdout).toBe(`${i}\n`);
    }

    // The runners' own logs: each job completed exactly once, by the runner the gateway names.
    const byRunner = new Map<string, string>();
    for (const [runner, name] of [
      [victim!, names[0]!],
      [restarted, names[0]!],
      [steady!, names[1]!],
    ] as const) {
      for (const id of finishedJobs(runner)) {
        expect(byRunner.has(id), `job ${id} completed twice`).toBe(false);
        byRunner.set(id, name);
      }
    }
    // A SIGKILL between the victim sending a result and writing its "job finished" line (two
    // syscalls apart) loses the line, not the job: such a job is done, by the victim, on its first
    // attempt, finished before the kill — at most one per slot. Count those as the victim's.
    const unlogged = listed.filter((job) => !byRunner.has(job.id));
    const lostLines = unlogged.filter(
      (job) =>
        job.runner_id === names[0] && job.attempt === 1 && Date.parse(job.finished_at) <= killedAt + 1_000,
    );
    expect(lostLines.length).toBeLessThanOrEqual(2);
    for (const job of lostLines) byRunner.set(job.id, names[0]!);
    expect(
      byRunner.size,
      JSON.stringify({ unlogged, kill: gw.child.matching((l) => /runner/.test(l.msg)) }),
    ).toBe(total);
    for (const job of listed) expect(byRunner.get(job.id)).toBe(job.runner_id);
    expect(finishedJobs(victim!).length).toBeGreaterThan(0);
    expect(finishedJobs(restarted).length).toBeGreaterThan(0);
  });
});
