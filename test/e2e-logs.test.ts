// The logs of real processes (`node dist/cli.js gateway` and `runner`, stdout a pipe: JSON lines)
// while one job runs over REST: every line parses, has a level label, an ISO time and a message,
// and grepping the job's id finds its life on both sides, each line naming the runner and, on
// the gateway, the client that submitted it.
import { describe, expect, it } from 'vitest';
import { Cluster, type LogLine, rest, uniqueRunnerName } from './faults-cluster.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function expectWellFormed(lines: LogLine[]): void {
  for (const line of lines) {
    expect(line).toMatchObject({
      level: expect.stringMatching(/^(debug|info|warn|error)$/),
      time: expect.stringMatching(ISO),
      msg: expect.any(String),
    });
  }
}

describe('logs', () => {
  it("follow one job by its id: job_id, runner_id and client on the gateway's lines and the runner's", async () => {
    const cluster = await Cluster.create();
    const gw = await cluster.gateway({ CODEEXEC_LOG_LEVEL: 'debug' });
    const name = uniqueRunnerName('logs');
    const runner = await cluster.runner(name, gw.url, { CODEEXEC_LOG_LEVEL: 'debug' });

    const ran = await rest(gw.url, 'POST', '/execute/code', { lang: 'python', code: 'print(6*7)' });
    expect(ran).toMatchObject({ status: 200, body: { status: 'done', stdout: '42\n' } });
    const id: string = ran.body.id;
    const { body: record } = await rest(gw.url, 'GET', `/execute/${id}/result`);
    expect(record.client).toMatch(/^addr:/);
    await gw.child.waitFor((line) => line.msg === 'job finished' && line.job_id === id);
    await runner.waitFor((line) => line.msg === 'job finished' && line.job_id === id);

    for (const child of [gw.child, runner]) {
      expect(child.unparsed).toEqual([]);
      expectWellFormed(child.lines);
    }

    const atGateway = gw.child.matching((line) => line.job_id === id);
    expect(atGateway.map((line) => [line.level, line.msg])).toEqual([
      ['debug', 'job queued'],
      ['debug', 'job running'],
      ['info', 'job finished'],
    ]);
    for (const line of atGateway) expect(line.client).toBe(record.client);
    for (const line of atGateway.slice(1)) expect(line.runner_id).toBe(name);
    expect(atGateway.at(-1)).toMatchObject({
      status: 'done',
      reason: 'exited',
      exit_code: 0,
      attempt: 1,
      total_ms: expect.any(Number),
    });

    // The runner does not know the client (the offer does not carry it); it names itself on every line.
    for (const line of runner.lines) expect(line.runner_id).toBe(name);
    const atRunner = runner.matching((line) => line.job_id === id);
    expect(atRunner.map((line) => line.msg)).toEqual(['job accepted', 'job finished']);
    expect(atRunner.at(-1)).toMatchObject({ reason: 'exited', exit_code: 0, reported: true });
  });
});
