// The client socket's resume and goaway on the core without a transport (fake clock, memory
// store, recording sockets): what a second socket gets after the first lost its link, whose jobs
// it may follow, and what every socket hears when the gateway goes away. test/e2e-resume.test.ts
// does it for real (Docker, a TCP connection cut mid-job).
import { beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/index.js';
import { recordingSocket, type SentFrame } from '../../test/recording-socket.js';
import { type Core, dispatchCore, type FakeRunner, result } from '../jobs/dispatcher-fixture.js';
import type { SocketLike } from '../transport/transport.js';
import { ClientSockets } from './client-socket.js';

let core: Core;
let runner: FakeRunner;
let sockets: ClientSockets;

/** A socket of `client`, opened on the handler; `closed` records close calls. */
function open(client: string) {
  const { socket, sent } = recordingSocket();
  const closed: { code: number; reason: string }[] = [];
  const recording: SocketLike & { buffered: number } = {
    buffered: 0,
    send: socket.send,
    close: (code, reason) => closed.push({ code, reason }),
    get bufferedAmount() {
      return this.buffered;
    },
    remoteAddress: '127.0.0.1',
  };
  sockets.open(recording, { headers: { 'x-client': client }, query: new URLSearchParams() });
  const send = (frame: object) => sockets.message(recording, JSON.stringify(frame));
  return { socket: recording, sent, closed, send };
}

const ofType = (sent: SentFrame[], ...types: string[]) => sent.filter((f) => types.includes(f.type));
const settle = () => new Promise((resolve) => setImmediate(resolve));

beforeEach(() => {
  core = dispatchCore();
  runner = core.connect('r1');
  sockets = new ClientSockets({
    dispatcher: core.dispatcher,
    book: core.book,
    output: core.output,
    ownJobsOnly: true,
    intake: core.intake,
    sessions: core.broker,
    log: silentLogger,
    authorize: (upgrade) => upgrade.headers['x-client'] ?? 'anonymous',
  });
});

/** Submits on `client`'s socket and has the runner accept it; returns the job id. */
async function started(client: ReturnType<typeof open>): Promise<string> {
  client.send({ type: 'execute', id: 'a', lang: 'python', code: 'x' });
  const jobId = ofType(client.sent, 'accepted')[0]!.job_id as string;
  await settle(); // the offer goes out on the bus's wake-up
  core.dispatcher.accepted(runner, jobId);
  expect(core.book.get(jobId)?.status).toBe('running');
  return jobId;
}

const out = (jobId: string, seq: number, data: string, stream: 'stdout' | 'stderr' = 'stdout') =>
  core.dispatcher.output(runner, jobId, { stream, seq, data });

describe('resume', () => {
  it('sends the chunks after after_seq, then the live rest and exit, none twice', async () => {
    const first = open('alice');
    const jobId = await started(first);
    out(jobId, 0, 'a');
    out(jobId, 1, 'b', 'stderr');
    out(jobId, 2, 'c');
    expect(ofType(first.sent, 'stdout', 'stderr').map((f) => f.seq)).toEqual([0, 1, 2]);
    sockets.close(first.socket);

    const second = open('alice');
    second.send({ type: 'resume', id: 'again', job_id: jobId, after_seq: 0 });
    await settle();
    out(jobId, 3, 'd');
    core.dispatcher.done(runner, jobId, result('acd'));
    await settle();
    const frames = second.sent.map((f) => (f.data === undefined ? f.type : `${f.type}:${f.seq}:${f.data}`));
    expect(frames).toEqual(['resumed', 'stderr:1:b', 'stdout:2:c', 'stdout:3:d', 'exit']);
    expect(second.sent[0]).toMatchObject({ id: 'again', job_id: jobId, status: 'running', attempt: 1 });
    expect(ofType(second.sent, 'exit')[0]!.result.stdout).toBe('acd');
  });

  it('replays a finished job from the start, then its exit', async () => {
    const first = open('alice');
    const jobId = await started(first);
    out(jobId, 0, 'x');
    core.dispatcher.done(runner, jobId, result('x'));
    const second = open('alice');
    second.send({ type: 'resume', id: 'r', job_id: jobId });
    await settle();
    await settle();
    expect(second.sent.map((f) => f.type)).toEqual(['resumed', 'stdout', 'exit']);
  });

  it("gives back chunks dropped for a slow reader, and a gap for chunks the runner's link lost", async () => {
    const first = open('alice');
    const jobId = await started(first);
    first.socket.buffered = 2 * 1024 * 1024; // past the high-water mark: live chunks are dropped
    out(jobId, 0, 'a');
    out(jobId, 3, 'd');
    expect(ofType(first.sent, 'stdout')).toEqual([]);
    expect(ofType(first.sent, 'gap')).toMatchObject([{ from_seq: 1, to_seq: 2, reason: 'not_received' }]);
    const second = open('alice');
    second.send({ type: 'resume', id: 'r', job_id: jobId });
    await settle();
    expect(second.sent.map((f) => (f.type === 'gap' ? `gap:${f.from_seq}-${f.to_seq}` : f.type))).toEqual([
      'resumed',
      'stdout',
      'gap:1-2',
      'stdout',
    ]);
  });

  it("refuses another client's job as not found, and an unknown job", async () => {
    const alice = open('alice');
    const jobId = await started(alice);
    const mallory = open('mallory');
    mallory.send({ type: 'resume', id: 'steal', job_id: jobId });
    mallory.send({ type: 'resume', id: 'nothing', job_id: 'no-such-job' });
    await settle();
    expect(mallory.sent).toMatchObject([
      { type: 'error', id: 'steal', code: 'not_found' },
      { type: 'error', id: 'nothing', code: 'not_found' },
    ]);
    // Nothing of alice's job reaches mallory afterwards, and cancel does not reach it.
    mallory.send({ type: 'cancel', id: 'steal' });
    out(jobId, 0, 'secret');
    expect(ofType(mallory.sent, 'stdout')).toEqual([]);
    expect(core.book.get(jobId)?.status).toBe('running');
  });

  it('takes the id at once: a second frame with it is a duplicate, and cancel works once resumed', async () => {
    const alice = open('alice');
    const jobId = await started(alice);
    const again = open('alice');
    again.send({ type: 'resume', id: 'r', job_id: jobId });
    again.send({ type: 'resume', id: 'r', job_id: jobId });
    await settle();
    expect(ofType(again.sent, 'error')).toMatchObject([{ id: 'r', code: 'duplicate_id' }]);
    again.send({ type: 'cancel', id: 'r' });
    expect(runner.sent.filter((f) => f.type === 'cancel').map((f) => f.job_id)).toEqual([jobId]);
  });

  it('refuses a malformed resume with invalid_frame', () => {
    const alice = open('alice');
    alice.send({ type: 'resume', id: 'r', job_id: 'j', after_seq: -2 });
    alice.send({ type: 'resume', id: 'r', job_id: 'j', after_seq: 1.5 });
    alice.send({ type: 'resume', id: 'r' });
    expect(alice.sent.map((f) => f.code)).toEqual(['invalid_frame', 'invalid_frame', 'invalid_frame']);
  });
});

describe('goaway', () => {
  it('tells every socket when to come back, in [n, 2n), then closes it with 1001', () => {
    const sockets2 = [open('alice'), open('bob'), open('carol')];
    sockets.goaway(1000);
    for (const s of sockets2) {
      const [goaway] = ofType(s.sent, 'goaway');
      expect(goaway).toMatchObject({ type: 'goaway', id: null });
      expect(goaway!.reconnect_after_ms).toBeGreaterThanOrEqual(1000);
      expect(goaway!.reconnect_after_ms).toBeLessThan(2001);
      expect(s.closed).toEqual([{ code: 1001, reason: 'gateway going away' }]);
    }
  });
});

describe('execute', () => {
  it('takes labels as REST does: the job goes only to a runner with them all', async () => {
    const gpu = core.connect('gpu-runner', { labels: ['gpu'] });
    const alice = open('alice');
    alice.send({ type: 'execute', id: 'g', lang: 'python', code: 'x', labels: ['gpu'] });
    const jobId = ofType(alice.sent, 'accepted')[0]!.job_id as string;
    await settle();
    expect(core.offers(gpu)).toEqual([jobId]);
    expect(core.offers(runner)).toEqual([]);
    alice.send({ type: 'execute', id: 'none', lang: 'python', code: 'x', labels: ['tpu'] });
    expect(ofType(alice.sent, 'error')).toMatchObject([{ id: 'none', code: 'no_runner' }]);
  });
});

describe('interactive input', () => {
  it('passes stdin on in order, and answers input the job refused with an error frame', async () => {
    const alice = open('alice');
    alice.send({ type: 'execute', id: 'i', lang: 'python', code: 'input()', interactive: true });
    const jobId = ofType(alice.sent, 'accepted')[0]!.job_id as string;
    // Before a runner has it, input waits (bounded): past the bound it is refused. The refusal
    // comes through the bus's answer, after the frame was handled.
    const chunk = 'x'.repeat(60_000);
    for (let i = 0; i < 18; i++) alice.send({ type: 'stdin', id: 'i', data: chunk });
    expect(ofType(alice.sent, 'error')).toEqual([]);
    await settle();
    expect(ofType(alice.sent, 'error')).toMatchObject([{ id: 'i', code: 'invalid_frame' }]);
    core.dispatcher.accepted(runner, jobId);
    alice.send({ type: 'stdin', id: 'i', data: 'a' });
    alice.send({ type: 'stdin', id: 'i', data: 'b' });
    alice.send({ type: 'stdin_eof', id: 'i' });
    expect(runner.sent.slice(-4).map((frame) => frame.type)).toEqual([
      'stdin',
      'stdin',
      'stdin',
      'stdin_eof',
    ]);
    expect(runner.sent.slice(-3, -1)).toMatchObject([{ data: 'a' }, { data: 'b' }]);
  });
});
