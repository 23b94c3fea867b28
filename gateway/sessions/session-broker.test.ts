// The session broker's bookkeeping, with a real dispatcher and store and runner sockets that only
// record frames: placement on a free slot, one execution at a time in order, idle timeout, and
// what happens when the runner refuses, fails or goes away. test/e2e-sessions.test.ts runs the
// real thing (gateway, runner, Docker).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type CodeexecError, silentLogger } from '../../shared/index.js';
import { tempDir } from '../../test/helpers.js';
import { recordingSocket, type SentFrame } from '../../test/recording-socket.js';
import { Admission } from '../jobs/admission.js';
import { Dispatcher } from '../jobs/dispatcher.js';
import { RunnerSession } from '../runners/runner-session.js';
import { JobStore } from '../store/job-store.js';
import { type ClientSession, SessionBroker, type SessionOwner } from './session-broker.js';

function fakeRunner(name: string, slots: number): RunnerSession & { sent: SentFrame[] } {
  const { socket, sent } = recordingSocket();
  const runner = new RunnerSession(socket) as RunnerSession & { sent: SentFrame[] };
  runner.sent = sent;
  runner.moveTo('ready');
  runner.name = name;
  runner.slots = slots;
  runner.languages = new Map([['python', { name: 'python', version: '3.11', aliases: [] }]]);
  return runner;
}

function recordingOwner() {
  const events: { event: string; detail?: string }[] = [];
  const owner: SessionOwner = {
    opened: () => events.push({ event: 'opened' }),
    failed: (_s, error: CodeexecError) => events.push({ event: 'failed', detail: error.code }),
    ended: (_s, reason) => events.push({ event: 'ended', detail: reason }),
  };
  return { owner, events };
}

let store: JobStore;
let dispatcher: Dispatcher;
let broker: SessionBroker;

beforeEach(async () => {
  store = new JobStore(await tempDir());
  await store.open();
  dispatcher = new Dispatcher({
    store,
    log: silentLogger,
    queueTimeoutMs: 60_000,
    offerTimeoutMs: 60_000,
    maxAttempts: 3,
    leaseMs: 60_000,
    admission: new Admission(store, { maxQueue: 100, maxPerClient: 100 }),
    storeOutputBytes: 1024 * 1024,
    durableBeforeOffer: false,
  });
  broker = new SessionBroker({ dispatcher, log: silentLogger, placeTimeoutMs: 2000, openTimeoutMs: 2000 });
});

afterEach(() => {
  vi.useRealTimers();
  dispatcher.close();
  broker.shutdown();
});

const spec = { lang: 'python', limits: { memory_bytes: 64 * 1024 * 1024 }, idleMs: 60_000 };
const request = (code: string) => ({ lang: 'python', code });
const result = (stdout: string) => ({
  stdout,
  stderr: '',
  output: stdout,
  exit_code: 0,
  signal: null,
  reason: 'exited' as const,
  wall_ms: 1,
  truncated: false,
});

function open(runner: RunnerSession & { sent: SentFrame[] }, owner: SessionOwner): ClientSession {
  const session = broker.open(spec, owner);
  const frame = runner.sent.find((f) => f.type === 'session_open' && f.session_id === session.id);
  expect(frame).toMatchObject({ lang: 'python', limits: spec.limits });
  broker.runnerOpened(runner, session.id);
  return session;
}

describe('SessionBroker', () => {
  it('places a session on a free slot, which it holds, and runs its executions one at a time in order', () => {
    const runner = fakeRunner('r1', 2);
    dispatcher.runnerReady(runner, []);
    const { owner, events } = recordingOwner();
    const session = open(runner, owner);
    expect(events).toEqual([{ event: 'opened' }]);
    expect(runner.freeSlots).toBe(1);

    const first = broker.execute(session, request('1'), false, null);
    const second = broker.execute(session, request('2'), false, null);
    const offers = () => runner.sent.filter((f) => f.type === 'offer');
    expect(offers().map((f) => f.job.id)).toEqual([first.id]);
    expect(offers()[0]?.job.session_id).toBe(session.id);
    dispatcher.accepted(runner, first.id);
    // An execution takes no slot of its own.
    expect(runner.freeSlots).toBe(1);
    dispatcher.done(runner, first.id, result('one'));
    expect(offers().map((f) => f.job.id)).toEqual([first.id, second.id]);
    dispatcher.accepted(runner, second.id);
    dispatcher.done(runner, second.id, result('two'));
    expect(store.get(second.id)).toMatchObject({ status: 'done', stdout: 'two', session_id: session.id });

    broker.close(session);
    expect(runner.sent.at(-1)).toEqual({ type: 'session_close', session_id: session.id });
    expect(events.at(-1)).toEqual({ event: 'ended', detail: 'closed' });
    expect(runner.freeSlots).toBe(2);
  });

  it('waits for a slot, and fails with no_runner when none frees in time', () => {
    vi.useFakeTimers();
    const runner = fakeRunner('r1', 1);
    dispatcher.runnerReady(runner, []);
    const a = recordingOwner();
    open(runner, a.owner);
    const b = recordingOwner();
    const waiting = broker.open(spec, b.owner);
    expect(waiting.state).toBe('placing');
    vi.advanceTimersByTime(2001);
    expect(b.events).toEqual([{ event: 'failed', detail: 'no_runner' }]);
  });

  it('a slot freed by a closed session goes to the session waiting for one', () => {
    const runner = fakeRunner('r1', 1);
    dispatcher.runnerReady(runner, []);
    const first = open(runner, recordingOwner().owner);
    const second = broker.open(spec, recordingOwner().owner);
    expect(second.state).toBe('placing');
    broker.close(first);
    expect(second.state).toBe('opening');
    expect(runner.sent.at(-1)).toMatchObject({ type: 'session_open', session_id: second.id });
  });

  it('ends an idle session, and restarts the idle clock when an execution ends', () => {
    vi.useFakeTimers();
    const runner = fakeRunner('r1', 1);
    dispatcher.runnerReady(runner, []);
    const { owner, events } = recordingOwner();
    const session = open(runner, owner);
    vi.advanceTimersByTime(59_000);
    const job = broker.execute(session, request('1'), false, null);
    dispatcher.accepted(runner, job.id);
    vi.advanceTimersByTime(120_000);
    expect(events.at(-1)).toEqual({ event: 'opened' });
    dispatcher.done(runner, job.id, result(''));
    vi.advanceTimersByTime(59_000);
    expect(session.state).toBe('open');
    vi.advanceTimersByTime(1001);
    expect(events.at(-1)).toEqual({ event: 'ended', detail: 'idle_timeout' });
    expect(runner.sent.at(-1)).toEqual({ type: 'session_close', session_id: session.id });
  });

  it('places it elsewhere when a runner refuses, and reports a runner that cannot make the sandbox', () => {
    const busy = fakeRunner('busy', 4);
    dispatcher.runnerReady(busy, []);
    const { owner, events } = recordingOwner();
    const session = broker.open(spec, owner);
    expect(session.runner).toBe(busy);
    const other = fakeRunner('other', 1);
    dispatcher.runnerReady(other, []);
    broker.runnerEnded(busy, session.id, 'runner_rejected', 'no free slot');
    expect(session.runner).toBe(other);
    broker.runnerEnded(other, session.id, 'sandbox_failed', 'docker said no');
    expect(events).toEqual([{ event: 'failed', detail: 'sandbox_failed' }]);
    expect(other.freeSlots).toBe(1);
  });

  it('fails waiting executions when the sandbox ends, and running ones when the runner goes away', () => {
    const runner = fakeRunner('r1', 2);
    dispatcher.runnerReady(runner, []);
    const a = recordingOwner();
    const died = open(runner, a.owner);
    const running = broker.execute(died, request('1'), false, null);
    const queued = broker.execute(died, request('2'), false, null);
    dispatcher.accepted(runner, running.id);
    broker.runnerEnded(runner, died.id, 'sandbox_failed', 'the container died');
    expect(a.events.at(-1)).toEqual({ event: 'ended', detail: 'sandbox_ended' });
    expect(store.get(queued.id)).toMatchObject({ status: 'failed', error: { code: 'session_closed' } });
    // The running one ends when its runner reports it.
    expect(store.get(running.id)?.status).toBe('running');
    dispatcher.done(runner, running.id, {
      ...result(''),
      reason: 'signal',
      signal: 'SIGKILL',
      exit_code: null,
    });
    expect(store.get(running.id)?.status).toBe('done');

    const b = recordingOwner();
    const lost = open(runner, b.owner);
    const job = broker.execute(lost, request('3'), false, null);
    dispatcher.accepted(runner, job.id);
    dispatcher.runnerGone(runner);
    broker.runnerGone(runner);
    expect(b.events.at(-1)).toEqual({ event: 'ended', detail: 'runner_lost' });
    // Never re-queued: its sandbox is gone with the runner.
    expect(store.get(job.id)).toMatchObject({ status: 'failed', error: { code: 'runner_lost' } });
  });

  it('closes a sandbox the runner opened after the client had given up on it', () => {
    const runner = fakeRunner('r1', 1);
    dispatcher.runnerReady(runner, []);
    const { owner, events } = recordingOwner();
    const session = broker.open(spec, owner);
    broker.close(session);
    expect(runner.sent.at(-1)).toEqual({ type: 'session_close', session_id: session.id });
    runner.sent.length = 0;
    broker.runnerOpened(runner, session.id);
    expect(runner.sent).toEqual([{ type: 'session_close', session_id: session.id }]);
    expect(events).toEqual([{ event: 'ended', detail: 'closed' }]);
  });
});
