// Two gateway cores sharing one store and one bus, as two gateway processes share PostgreSQL and
// NATS: a job held by A (its runner is connected to A) is watched, fed input and cancelled from
// B. On plain data: a memory store, the in-process bus standing in for NATS.
import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../shared/index.js';
import { InProcessBus } from '../bus/in-process-bus.js';
import type { OutputEvent } from '../events/job-events.js';
import { MemoryJobStore } from '../store/memory-job-store.js';
import { dispatchCore, result } from './dispatcher-fixture.js';

const settle = () => new Promise((resolve) => setImmediate(resolve));

async function twoGateways() {
  const store = new MemoryJobStore();
  const bus = new InProcessBus();
  const a = dispatchCore({ store, bus });
  const b = dispatchCore({ store, bus });
  const runner = a.connect('runner-on-a');
  const job = a.intake.submit({ lang: 'python', code: 'x' }, true).job;
  await settle();
  a.dispatcher.accepted(runner, job.id);
  expect(a.book.get(job.id)?.status).toBe('running');
  expect(b.book.get(job.id)).toBeUndefined();
  return { a, b, runner, job };
}

describe('two gateways on one store and one bus', () => {
  it("B follows A's job: its output, then its end", async () => {
    const { a, b, runner, job } = await twoGateways();
    const seen: OutputEvent[] = [];
    let ended: JobRecord | null = null;
    b.dispatcher.watch(job.id, {
      output: (event) => seen.push(event),
      end: (record) => {
        ended = record;
      },
    });
    await settle();
    a.dispatcher.output(runner, job.id, { stream: 'stdout', seq: 0, data: 'hi\n' });
    a.dispatcher.done(runner, job.id, result('hi\n'));
    await settle();
    expect(seen).toEqual([{ stream: 'stdout', seq: 0, data: 'hi\n' }]);
    expect(ended).toMatchObject({ id: job.id, status: 'done', stdout: 'hi\n' });
  });

  it('B ends a watch of a job that already ended from the store, and of one that never was', async () => {
    const { a, b, runner, job } = await twoGateways();
    a.dispatcher.done(runner, job.id, result('x'));
    await a.store.flush();
    const ends: string[] = [];
    b.dispatcher.watch(job.id, { end: (record) => ends.push(record.status) });
    b.dispatcher.watch('no-such-job', { end: (record) => ends.push(record.status) });
    await settle();
    await settle();
    expect(ends).toEqual(['done']);
    expect(await b.dispatcher.wait(job.id)).toMatchObject({ status: 'done' });
  });

  it("B's stdin and cancel reach A's runner", async () => {
    const { b, runner, job } = await twoGateways();
    await b.dispatcher.control(job.id, { type: 'stdin', data: 'typed\n' });
    b.dispatcher.cancel(job.id);
    await settle();
    expect(runner.sent.filter((f) => f.type !== 'offer').map((f) => [f.type, f.job_id])).toEqual([
      ['stdin', job.id],
      ['cancel', job.id],
    ]);
    await expect(b.dispatcher.control('no-such-job', { type: 'stdin_eof' })).rejects.toMatchObject({
      code: 'not_found',
    });
  });
});
