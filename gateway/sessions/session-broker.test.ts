// The session broker's bookkeeping, with the real dispatcher, registry and (in-memory) store on a
// fake clock, and runner sockets that only record frames: placement on a free slot, one execution
// at a time in order, idle timeout, and what happens when the runner refuses, fails or goes away.
// test/e2e-sessions.test.ts runs the real thing (gateway, runner, Docker).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CodeexecError } from '../../shared/index.js';
import { type Core, dispatchCore, type FakeRunner, result } from '../jobs/dispatcher-fixture.js';
import type { ClientSession, SessionOwner } from './session-broker.js';

function recordingOwner() {
  const events: { event: string; detail?: string }[] = [];
  const owner: SessionOwner = {
    opened: () => events.push({ event: 'opened' }),
    failed: (_s, error: CodeexecError) => events.push({ event: 'failed', detail: error.code }),
    ended: (_s, reason) => events.push({ event: 'ended', detail: reason }),
  };
  return { owner, events };
}

let core: Core;
const fakeRunner = (name: string, slots: number) => core.connect(name, { slots });
const stored = (id: string) => core.book.find(id);

beforeEach(() => {
  core = dispatchCore();
});

afterEach(() => {
  core.close();
});

const spec = { lang: 'python', limits: { memory_bytes: 64 * 1024 * 1024 }, idleMs: 60_000 };
const request = (code: string) => ({ lang: 'python', code });

function open(runner: FakeRunner, owner: SessionOwner): ClientSession {
  const session = core.broker.open(spec, owner);
  const frame = runner.sent.find((f) => f.type === 'session_open' && f.session_id === session.id);
  expect(frame).toMatchObject({ lang: 'python', limits: spec.limits });
  core.broker.runnerOpened(runner, session.id);
  return session;
}

describe('SessionBroker', () => {
  it('places a trusted session only on a trusted runner', () => {
    const donor = core.connect('donor', { tier: 'donor', identity: 'donor:x' });
    const session = core.broker.open({ ...spec, trust: 'trusted' }, recordingOwner().owner);
    expect(donor.sent.some((f) => f.type === 'session_open')).toBe(false);
    const trusted = fakeRunner('trusted', 1);
    expect(trusted.sent.find((f) => f.type === 'session_open')?.session_id).toBe(session.id);
  });

  it('places a session on a free slot, which it holds, and runs its executions one at a time in order', async () => {
    const runner = fakeRunner('r1', 2);
    const { owner, events } = recordingOwner();
    const session = open(runner, owner);
    expect(events).toEqual([{ event: 'opened' }]);
    expect(runner.freeSlots).toBe(1);

    const first = core.broker.execute(session, request('1'), false, null);
    const second = core.broker.execute(session, request('2'), false, null);
    const offers = () => runner.sent.filter((f) => f.type === 'offer');
    expect(offers().map((f) => f.job.id)).toEqual([first.id]);
    expect(offers()[0]?.job.session_id).toBe(session.id);
    core.dispatcher.accepted(runner, first.id);
    // An execution takes no slot of its own.
    expect(runner.freeSlots).toBe(1);
    core.dispatcher.done(runner, first.id, result('one'));
    expect(offers().map((f) => f.job.id)).toEqual([first.id, second.id]);
    core.dispatcher.accepted(runner, second.id);
    core.dispatcher.done(runner, second.id, result('two'));
    expect(await stored(second.id)).toMatchObject({ status: 'done', stdout: 'two', session_id: session.id });

    core.broker.close(session);
    expect(runner.sent.at(-1)).toEqual({ type: 'session_close', session_id: session.id });
    expect(events.at(-1)).toEqual({ event: 'ended', detail: 'closed' });
    expect(runner.freeSlots).toBe(2);
  });

  it('waits for a slot, and fails with no_runner when none frees in time', async () => {
    const runner = fakeRunner('r1', 1);
    const a = recordingOwner();
    open(runner, a.owner);
    const b = recordingOwner();
    const waiting = core.broker.open(spec, b.owner);
    expect(waiting.state).toBe('placing');
    core.clock.advance(30_001); // a session waits for a slot as long as a job waits in the queue
    expect(b.events).toEqual([{ event: 'failed', detail: 'no_runner' }]);
  });

  it('a slot freed by a closed session goes to the session waiting for one', async () => {
    const runner = fakeRunner('r1', 1);
    const first = open(runner, recordingOwner().owner);
    const second = core.broker.open(spec, recordingOwner().owner);
    expect(second.state).toBe('placing');
    core.broker.close(first);
    expect(second.state).toBe('opening');
    expect(runner.sent.at(-1)).toMatchObject({ type: 'session_open', session_id: second.id });
  });

  it('ends an idle session, and restarts the idle clock when an execution ends', async () => {
    const runner = fakeRunner('r1', 1);
    const { owner, events } = recordingOwner();
    const session = open(runner, owner);
    core.clock.advance(59_000);
    const job = core.broker.execute(session, request('1'), false, null);
    core.dispatcher.accepted(runner, job.id);
    core.clock.advance(120_000);
    expect(events.at(-1)).toEqual({ event: 'opened' });
    core.dispatcher.done(runner, job.id, result(''));
    core.clock.advance(59_000);
    expect(session.state).toBe('open');
    core.clock.advance(1001);
    expect(events.at(-1)).toEqual({ event: 'ended', detail: 'idle_timeout' });
    expect(runner.sent.at(-1)).toEqual({ type: 'session_close', session_id: session.id });
  });

  it('places it elsewhere when a runner refuses, and reports a runner that cannot make the sandbox', async () => {
    const busy = fakeRunner('busy', 4);
    const { owner, events } = recordingOwner();
    const session = core.broker.open(spec, owner);
    expect(session.runner).toBe(busy);
    const other = fakeRunner('other', 1);
    core.broker.runnerEnded(busy, session.id, 'runner_rejected', 'no free slot');
    expect(session.runner).toBe(other);
    core.broker.runnerEnded(other, session.id, 'sandbox_failed', 'docker said no');
    expect(events).toEqual([{ event: 'failed', detail: 'sandbox_failed' }]);
    expect(other.freeSlots).toBe(1);
  });

  it('fails waiting executions when the sandbox ends, and running ones when the runner goes away', async () => {
    const runner = fakeRunner('r1', 2);
    const a = recordingOwner();
    const died = open(runner, a.owner);
    const running = core.broker.execute(died, request('1'), false, null);
    const queued = core.broker.execute(died, request('2'), false, null);
    core.dispatcher.accepted(runner, running.id);
    core.broker.runnerEnded(runner, died.id, 'sandbox_failed', 'the container died');
    expect(a.events.at(-1)).toEqual({ event: 'ended', detail: 'sandbox_ended' });
    expect(await stored(queued.id)).toMatchObject({ status: 'failed', error: { code: 'session_closed' } });
    // The running one ends when its runner reports it.
    expect((await stored(running.id))?.status).toBe('running');
    core.dispatcher.done(runner, running.id, {
      ...result(''),
      reason: 'signal',
      signal: 'SIGKILL',
      exit_code: null,
    });
    expect((await stored(running.id))?.status).toBe('done');

    const b = recordingOwner();
    const lost = open(runner, b.owner);
    const job = core.broker.execute(lost, request('3'), false, null);
    core.dispatcher.accepted(runner, job.id);
    core.dispatcher.runnerGone(runner, false, 'closed');
    core.broker.runnerGone(runner);
    expect(b.events.at(-1)).toEqual({ event: 'ended', detail: 'runner_lost' });
    // Never re-queued: its sandbox is gone with the runner.
    expect(await stored(job.id)).toMatchObject({ status: 'failed', error: { code: 'runner_lost' } });
  });

  it('closes a sandbox the runner opened after the client had given up on it', async () => {
    const runner = fakeRunner('r1', 1);
    const { owner, events } = recordingOwner();
    const session = core.broker.open(spec, owner);
    core.broker.close(session);
    expect(runner.sent.at(-1)).toEqual({ type: 'session_close', session_id: session.id });
    runner.sent.length = 0;
    core.broker.runnerOpened(runner, session.id);
    expect(runner.sent).toEqual([{ type: 'session_close', session_id: session.id }]);
    expect(events).toEqual([{ event: 'ended', detail: 'closed' }]);
  });
});

describe('SessionBroker: listing a session’s files', () => {
  type Answer = Parameters<Parameters<typeof core.broker.listFiles>[1]>[0];
  /** Asks for the session's files; the answers it got, and the request the runner was sent. */
  function list(runner: FakeRunner, session: ClientSession) {
    const answers: Answer[] = [];
    const before = runner.sent.length;
    core.broker.listFiles(session, (answer) => answers.push(answer));
    const request = () =>
      runner.sent.slice(before).find((f) => f.type === 'session_files' && f.session_id === session.id);
    return { answers, request };
  }
  const answer = (
    runner: FakeRunner,
    session: ClientSession | string,
    requestId: string,
    over: object = {},
  ) =>
    core.broker.runnerListed(runner, {
      type: 'session_files_result',
      session_id: typeof session === 'string' ? session : session.id,
      request_id: requestId,
      files: [{ path: 'notes.txt', size: 17 }],
      truncated: false,
      ...over,
    });

  it('forwards the request to the session’s runner and relays its answer once', () => {
    const runner = fakeRunner('r1', 1);
    const session = open(runner, recordingOwner().owner);
    const job = core.broker.execute(session, request('1'), false, null);
    core.dispatcher.accepted(runner, job.id);
    // While an execution runs, too.
    const { answers, request: sent } = list(runner, session);
    const requestId = sent()?.request_id ?? '';
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    // Another runner's answer, or one for another session, is not this request's.
    answer(fakeRunner('r2', 1), session, requestId);
    answer(runner, 'another-session', requestId);
    expect(answers).toEqual([]);
    answer(runner, session, requestId, { truncated: true });
    answer(runner, session, requestId);
    expect(answers).toEqual([{ files: [{ path: 'notes.txt', size: 17 }], truncated: true }]);
  });

  it('relays the runner’s error with its code (an unknown code as sandbox_failed)', () => {
    const runner = fakeRunner('r1', 1);
    const session = open(runner, recordingOwner().owner);
    const first = list(runner, session);
    const second = list(runner, session);
    answer(runner, session, first.request()?.request_id ?? '', {
      files: [],
      error: { code: 'session_closed', message: 'not open here' },
    });
    answer(runner, session, second.request()?.request_id ?? '', {
      files: [],
      error: { code: 'weird', message: 'find broke' },
    });
    expect(first.answers).toMatchObject([{ code: 'session_closed', message: 'not open here' }]);
    expect(second.answers).toMatchObject([{ code: 'sandbox_failed', message: 'find broke' }]);
  });

  it('fails a request the runner does not answer within 5 s', () => {
    const runner = fakeRunner('r1', 1);
    const session = open(runner, recordingOwner().owner);
    const { answers, request: sent } = list(runner, session);
    core.clock.advance(4999);
    expect(answers).toEqual([]);
    core.clock.advance(2);
    expect(answers).toMatchObject([{ code: 'sandbox_failed', message: expect.stringMatching(/within 5 s/) }]);
    answer(runner, session, sent()?.request_id ?? '');
    expect(answers).toHaveLength(1);
  });

  it('holds a request made before the session opened, and sends it once it has', () => {
    const runner = fakeRunner('r1', 1);
    const first = open(runner, recordingOwner().owner);
    const session = core.broker.open(spec, recordingOwner().owner);
    expect(session.state).toBe('placing');
    const { answers, request: sent } = list(runner, session);
    expect(sent()).toBeUndefined();
    core.clock.advance(10_000); // the 5 s count from the request's sending, not from the ask
    expect(answers).toEqual([]);
    core.broker.close(first);
    expect(session.state).toBe('opening');
    expect(sent()).toBeUndefined();
    core.broker.runnerOpened(runner, session.id);
    answer(runner, session, sent()?.request_id ?? '');
    expect(answers).toMatchObject([{ files: [{ path: 'notes.txt' }] }]);
  });

  it('fails pending requests when the session ends or its runner goes away, and refuses an ended one', () => {
    const runner = fakeRunner('r1', 2);
    const closed = open(runner, recordingOwner().owner);
    const a = list(runner, closed);
    core.broker.close(closed);
    expect(a.answers).toMatchObject([{ code: 'session_closed' }]);
    expect(() => core.broker.listFiles(closed, () => {})).toThrow(/ended/);

    const died = open(runner, recordingOwner().owner);
    const b = list(runner, died);
    core.broker.runnerEnded(runner, died.id, 'sandbox_failed', 'the container died');
    expect(b.answers).toMatchObject([{ code: 'session_closed', message: expect.stringMatching(/died/) }]);

    const lost = open(runner, recordingOwner().owner);
    const c = list(runner, lost);
    core.dispatcher.runnerGone(runner, false, 'closed');
    core.broker.runnerGone(runner);
    expect(c.answers).toMatchObject([{ code: 'runner_lost' }]);

    const never = core.broker.open(spec, recordingOwner().owner);
    const d = list(runner, never);
    core.clock.advance(30_001);
    expect(d.answers).toMatchObject([
      { code: 'session_closed', message: expect.stringMatching(/did not open/) },
    ]);
  });
});
