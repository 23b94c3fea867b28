// The gateway's log of a job's life, on the dispatcher's core (fake clock, in-memory store,
// recording runners): grepping a job's id finds it queued, running, re-queued and finished, each
// line with the job's client and, once a runner has it, that runner.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/index.js';
import { type Core, dispatchCore, result } from '../jobs/dispatcher-fixture.js';
import { logEvents } from './log-events.js';

type Line = Record<string, unknown>;

let core: Core;
let lines: Line[];
let stop: () => void;
beforeEach(() => {
  lines = [];
  const log = createLogger({
    level: 'debug',
    destination: { write: (line) => void lines.push(JSON.parse(line)) },
  });
  core = dispatchCore({ log });
  stop = logEvents(core.events, log);
});
afterEach(() => {
  stop();
  core.close();
});

const submit = (client: string) =>
  core.intake.submit({ lang: 'python', code: 'print(1)' }, false, client).job;
/** Lets write-behind promises settle (the memory store resolves at once). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const about = (id: string) => lines.filter((line) => line.job_id === id);

describe('logEvents', () => {
  it('follows a job by its id: queued, running, requeued when its runner left, running again, finished', async () => {
    const a = core.connect('a');
    const job = submit('key:ab12');
    await settle();
    core.dispatcher.accepted(a, job.id);
    core.dispatcher.runnerGone(a, true, 'bye');
    const b = core.connect('b');
    await settle();
    core.dispatcher.accepted(b, job.id);
    core.dispatcher.done(b, job.id, result('1\n'));

    const life = about(job.id);
    expect(life.map((line) => [line.level, line.msg, line.runner_id])).toEqual([
      ['debug', 'job queued', undefined],
      ['debug', 'job running', 'a'],
      ['warn', 'runner lost while running a job', 'a'],
      ['warn', 'job requeued', 'a'],
      ['debug', 'job running', 'b'],
      ['info', 'job finished', 'b'],
    ]);
    for (const line of life) expect(line.client).toBe('key:ab12');
    expect(life.at(-1)).toMatchObject({
      status: 'done',
      reason: 'exited',
      exit_code: 0,
      attempt: 2,
      lang: 'python',
      total_ms: expect.any(Number),
    });
  });

  it('names the job, its client and the runner when a runner rejects it', async () => {
    const a = core.connect('a');
    const job = submit('addr:127.0.0.1');
    await settle();
    core.dispatcher.rejected(a, job.id, 'busy');
    expect(about(job.id)).toContainEqual(
      expect.objectContaining({
        msg: 'runner rejected a job',
        runner_id: 'a',
        client: 'addr:127.0.0.1',
        reason: 'busy',
      }),
    );
  });

  it('logs runners coming and going by runner_id', () => {
    const a = core.connect('a');
    core.dispatcher.runnerGone(a, true, 'bye');
    expect(lines.filter((line) => line.runner_id === 'a').map((line) => line.msg)).toEqual([
      'runner connected',
      'runner disconnected',
    ]);
  });
});
