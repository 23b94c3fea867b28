// The dispatcher carrying out the scheduler's decisions, on a fake clock with an in-memory store
// and runners that only record frames: offers, accepts and rejects, lease expiry, re-queue with
// attempt limits, drain and pause, languages being built, no_runner at once, fair share, input
// that waits for its job. No sockets, no Docker, no sleeps.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../shared/index.js';
import { type Core, dispatchCore, result } from './dispatcher-fixture.js';

let core: Core;
beforeEach(() => {
  core = dispatchCore({ queueTimeoutMs: 30_000, offerTimeoutMs: 5_000, leaseMs: 15_000, maxAttempts: 3 });
});
afterEach(() => core.close());

const submit = (over: Record<string, unknown> = {}, client: string | null = null) =>
  core.intake.submit({ lang: 'python', code: 'print(1)', ...over }, false, client).job;
const stored = async (id: string) => (await core.book.find(id)) as JobRecord;
/** Lets write-behind promises settle (the memory store resolves at once). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('offers', () => {
  it('offers a job to a runner with the language and a free slot, and runs it once accepted', async () => {
    const runner = core.connect('r1');
    const job = submit();
    await settle();
    expect(core.offers(runner)).toEqual([job.id]);
    core.dispatcher.accepted(runner, job.id);
    expect(await stored(job.id)).toMatchObject({ status: 'running', runner_id: 'r1', attempt: 1 });
    core.dispatcher.done(runner, job.id, result('1\n'));
    expect(await stored(job.id)).toMatchObject({ status: 'done', stdout: '1\n' });
  });

  it('offers a rejected job to another runner, never back to the one that refused', async () => {
    const a = core.connect('a');
    const job = submit();
    await settle();
    core.dispatcher.rejected(a, job.id, 'busy');
    expect(core.offers(a)).toEqual([job.id]);
    const b = core.connect('b');
    expect(core.offers(b)).toEqual([job.id]);
  });

  it('takes an unanswered offer back after the offer timeout and offers it elsewhere', async () => {
    const silent = core.connect('silent', { slots: 1 });
    const job = submit();
    await settle();
    const other = core.connect('other', { slots: 1 });
    expect(core.offers(other)).toEqual([]);
    core.clock.advance(5_000);
    expect(core.offers(other)).toEqual([job.id]);
    expect(silent.freeSlots).toBe(1);
  });

  it('keeps a job for a busy runner queued past the queue timeout: a backlog is not an outage', async () => {
    const runner = core.connect('r1', { slots: 1 });
    const first = submit();
    const second = submit();
    await settle();
    core.dispatcher.accepted(runner, first.id);
    core.clock.advance(90_000);
    expect((await stored(second.id)).status).toBe('queued');
    core.dispatcher.done(runner, first.id, result(''));
    expect(core.offers(runner)).toEqual([first.id, second.id]);
  });
});

describe('no runner', () => {
  it('refuses a language no runner offers or builds at once', () => {
    core.connect('r1', { languages: ['go'] });
    expect(() => submit()).toThrowError(expect.objectContaining({ code: 'no_runner' }));
    expect(() => submit({ labels: ['gpu'] }, null)).toThrowError(/python with labels gpu/);
  });

  it('lets a job wait when the client asks to (queue_timeout_ms), then fails it with no_runner', async () => {
    const job = submit({ queue_timeout_ms: 1_000 });
    await settle();
    core.clock.advance(999);
    expect((await stored(job.id)).status).toBe('queued');
    core.clock.advance(1);
    expect(await stored(job.id)).toMatchObject({ status: 'failed', error: { code: 'no_runner' } });
  });

  it('runs a waiting job as soon as a runner offering its language arrives', async () => {
    const job = submit({ queue_timeout_ms: 60_000 });
    await settle();
    const runner = core.connect('late');
    expect(core.offers(runner)).toEqual([job.id]);
  });

  it('lets a job for a language being built wait for it, and offers it once the image is ready', async () => {
    const runner = core.connect('r1', { languages: ['python'], building: ['rust'] });
    const job = submit({ lang: 'rust' });
    await settle();
    expect(core.registry.languageSummary().get('rust')).toMatchObject({
      runners: 0,
      building: 1,
      aliases: ['rs'],
    });
    core.clock.advance(120_000); // longer than the queue timeout: still waiting, it is being built
    expect((await stored(job.id)).status).toBe('queued');
    core.registry.setLanguages(runner, [{ name: 'rust', version: '1.63', aliases: ['rs'] }], []);
    core.dispatcher.pump();
    expect(core.offers(runner)).toEqual([job.id]);
    expect(core.registry.languageSummary().get('rust')).toMatchObject({ runners: 1, building: 0 });
  });
});

describe('runners that go away', () => {
  it('re-queues a running job when its lease runs out, with attempt + 1, up to the cap', async () => {
    const job = submit({ queue_timeout_ms: 600_000 });
    for (let attempt = 1; attempt <= 3; attempt++) {
      const runner = core.connect(`r${attempt}`);
      await settle();
      core.dispatcher.accepted(runner, job.id);
      expect((await stored(job.id)).attempt).toBe(attempt);
      core.dispatcher.runnerGone(runner, false, 'socket closed');
      expect((await stored(job.id)).status).toBe('running'); // its lease runs
      core.clock.advance(15_000);
    }
    expect(await stored(job.id)).toMatchObject({
      status: 'failed',
      error: { code: 'runner_lost' },
      attempt: 3,
    });
  });

  it('gives a running job back to its runner when it reconnects within the lease', async () => {
    const first = core.connect('r1');
    const job = submit();
    await settle();
    core.dispatcher.accepted(first, job.id);
    core.dispatcher.runnerGone(first, false, 'network');
    const again = core.connect('r1', { held: [job.id] });
    core.clock.advance(60_000);
    core.dispatcher.done(again, job.id, result('ok'));
    expect(await stored(job.id)).toMatchObject({ status: 'done', attempt: 1, stdout: 'ok' });
  });

  it('re-queues at once the jobs a runner that came back no longer holds, and those of one that left for good', async () => {
    const first = core.connect('r1', { slots: 4 });
    const lost = submit();
    const left = submit();
    await settle();
    core.dispatcher.accepted(first, lost.id);
    core.dispatcher.accepted(first, left.id);
    core.dispatcher.runnerGone(first, false, 'network');
    const again = core.connect('r1', { slots: 4, held: [] });
    expect(core.offers(again)).toEqual(expect.arrayContaining([lost.id, left.id]));
    expect((await stored(lost.id)).status).toBe('queued');
    core.dispatcher.accepted(again, lost.id);
    core.dispatcher.runnerGone(again, true, 'bye');
    expect(await stored(lost.id)).toMatchObject({ status: 'queued', attempt: 2 });
  });

  it('never re-runs an interactive job or a session execution: their input and sandbox are gone', async () => {
    const runner = core.connect('r1');
    const job = core.intake.submit({ lang: 'python', code: 'input()' }, true, null).job;
    await settle();
    core.dispatcher.accepted(runner, job.id);
    core.dispatcher.runnerGone(runner, true, 'bye');
    expect(await stored(job.id)).toMatchObject({ status: 'failed', error: { code: 'runner_lost' } });
  });

  it('retries a job whose sandbox failed under it (an engine error), never shows it as output', async () => {
    const runner = core.connect('r1');
    const job = submit();
    await settle();
    core.dispatcher.accepted(runner, job.id);
    core.dispatcher.done(runner, job.id, undefined, {
      code: 'sandbox_failed',
      message: 'container vanished',
    });
    expect(await stored(job.id)).toMatchObject({ status: 'queued', attempt: 1 });
    expect(core.offers(runner)).toEqual([job.id, job.id]);
    core.dispatcher.accepted(runner, job.id);
    core.dispatcher.done(runner, job.id, undefined, { code: 'invalid_request', message: 'bad file name' });
    expect(await stored(job.id)).toMatchObject({ status: 'failed', error: { code: 'invalid_request' } });
  });
});

describe('drain and pause', () => {
  it('offers nothing to a draining runner; its running jobs finish there', async () => {
    const runner = core.connect('r1', { slots: 2 });
    const running = submit();
    await settle();
    core.dispatcher.accepted(runner, running.id);
    core.registry.drain(runner);
    expect(() => submit()).toThrowError(expect.objectContaining({ code: 'no_runner' }));
    const next = submit({ queue_timeout_ms: 60_000 });
    await settle();
    expect(core.offers(runner)).toEqual([running.id]);
    core.dispatcher.done(runner, running.id, result(''));
    expect((await stored(running.id)).status).toBe('done');
    expect((await stored(next.id)).status).toBe('queued');
  });

  it('a draining runner does not keep a job waiting past its queue timeout', async () => {
    const runner = core.connect('r1');
    core.registry.drain(runner);
    const job = submit({ queue_timeout_ms: 1_000 });
    await settle();
    core.clock.advance(1_000);
    expect(await stored(job.id)).toMatchObject({ status: 'failed', error: { code: 'no_runner' } });
  });

  it('a paused runner is offered nothing until resumed, and keeps jobs waiting for it', async () => {
    const runner = core.connect('r1');
    core.registry.setCapacity(runner, 2, true);
    const job = submit();
    await settle();
    core.clock.advance(60_000);
    expect(core.offers(runner)).toEqual([]);
    expect((await stored(job.id)).status).toBe('queued');
    core.registry.setCapacity(runner, 1, false);
    core.dispatcher.pump();
    expect(core.offers(runner)).toEqual([job.id]);
  });
});

describe('fair share', () => {
  it('one key with 1000 queued does not starve another key’s single job', async () => {
    const runner = core.connect('r1', { slots: 1 });
    const flood = Array.from({ length: 1000 }, () => submit({}, 'key:a'));
    const single = submit({}, 'key:b');
    await settle();
    expect(core.offers(runner)).toEqual([flood[0]!.id]);
    core.dispatcher.accepted(runner, flood[0]!.id);
    core.dispatcher.done(runner, flood[0]!.id, result(''));
    expect(core.offers(runner).at(-1)).toBe(single.id);
    // And the flood goes on after it: a's next job follows b's.
    core.dispatcher.accepted(runner, single.id);
    core.dispatcher.done(runner, single.id, result(''));
    expect(core.offers(runner).at(-1)).toBe(flood[1]!.id);
  });
});

describe('input and cancel', () => {
  it('holds stdin sent before a runner accepted the job, and sends it on accept', async () => {
    const runner = core.connect('r1');
    const job = core.intake.submit({ lang: 'python', code: 'input()' }, true, null).job;
    await core.dispatcher.control(job.id, { type: 'stdin', data: 'hi\n' });
    await settle();
    core.dispatcher.accepted(runner, job.id);
    expect(runner.sent.at(-1)).toEqual({ type: 'stdin', job_id: job.id, data: 'hi\n' });
    await core.dispatcher.control(job.id, { type: 'stdin_eof' });
    expect(runner.sent.at(-1)).toEqual({ type: 'stdin_eof', job_id: job.id });
  });

  it('cancels a queued job at once and a running one through its runner', async () => {
    const runner = core.connect('r1', { slots: 1 });
    const running = submit();
    const queued = submit();
    await settle();
    core.dispatcher.accepted(runner, running.id);
    expect(core.dispatcher.cancel(queued.id)).toMatchObject({ status: 'cancelled' });
    core.dispatcher.cancel(running.id);
    expect(runner.sent.at(-1)).toEqual({ type: 'cancel', job_id: running.id });
    core.dispatcher.done(runner, running.id, result('', { reason: 'cancelled', exit_code: null }));
    expect((await stored(running.id)).status).toBe('cancelled');
    await expect(core.dispatcher.control(running.id, { type: 'stdin', data: 'x' })).rejects.toMatchObject({
      code: expect.stringMatching(/job_finished|not_found/),
    });
  });
});

describe('events', () => {
  it('tells JobEvents what happens, in order', async () => {
    const seen: string[] = [];
    for (const name of [
      'job.queued',
      'job.started',
      'job.finished',
      'job.requeued',
      'runner.joined',
      'runner.left',
    ] as const) {
      core.events.on(name, () => seen.push(name));
    }
    const runner = core.connect('r1');
    const job = submit();
    await settle();
    core.dispatcher.accepted(runner, job.id);
    core.dispatcher.runnerGone(runner, true, 'bye');
    const again = core.connect('r2');
    core.dispatcher.accepted(again, job.id);
    core.dispatcher.done(again, job.id, result(''));
    expect(seen).toEqual([
      'runner.joined',
      'job.queued',
      'job.started',
      'runner.left',
      'job.requeued',
      'runner.joined',
      'job.started',
      'job.finished',
    ]);
  });
});
