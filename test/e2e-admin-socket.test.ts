// End to end: the operator's dashboard socket (GET /admin/events, docs/admin.md) on a real gateway
// with a real runner: admin keys as GET /runners (a header, or a browser's Sec-WebSocket-Protocol),
// the snapshot, and live frames as jobs run, wait and end and the runner pauses and leaves.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Runner } from '../runner/runner.js';
import { ADMIN_EVENTS_PATH, wsProtocols } from '../shared/index.js';
import { post, startGateway, startRunner } from './helpers.js';
import { type Frame, TestSocket } from './ws-client.js';

const ADMIN_KEY = 'admin-secret-e2e';
let url: string;
let runner: Runner;
let runnerName: string;

beforeAll(async () => {
  const gw = await startGateway({ adminKeys: [ADMIN_KEY], queueTimeoutMs: 60_000 });
  url = gw.url;
  runner = await startRunner({ gatewayUrl: url, token: gw.token, slots: 1, languages: ['python'] });
  await runner.connected();
  runnerName = runner.name;
});

const events = (base = url) => `${base}${ADMIN_EVENTS_PATH}`;
const dashboard = () => TestSocket.open(events(), {}, wsProtocols(ADMIN_KEY));
/** The newest state of one job the socket has seen, once `match` holds for it. */
const jobFrame = (socket: TestSocket, id: string, match: (job: Frame) => boolean) =>
  socket
    .next((f) => f.type === 'jobs' && f.jobs.some((job: Frame) => job.id === id && match(job)))
    .then((f) => f.jobs.find((job: Frame) => job.id === id) as Frame);

describe('the dashboard socket', () => {
  it('refuses a caller without an admin key, or with a wrong one: an error frame, then 4401', async () => {
    for (const protocols of [[], wsProtocols('not-the-key')]) {
      const socket = await TestSocket.open(events(), {}, protocols);
      const closed = await socket.closed;
      expect(closed.code).toBe(4401);
      expect(socket.frames).toEqual([
        expect.objectContaining({
          type: 'error',
          code: 'unauthorized',
          message: expect.stringMatching(/admin key/),
        }),
      ]);
    }
  });

  it('sends a snapshot: the runner with its tier, slots, languages and last heartbeat', async () => {
    // A header works as well as the browser's subprotocol.
    for (const socket of [
      await TestSocket.open(events(), { authorization: `Bearer ${ADMIN_KEY}` }),
      await dashboard(),
    ]) {
      const snapshot = await socket.next((f) => f.type === 'snapshot');
      expect(snapshot).toMatchObject({ heartbeat_ms: 5_000, queue: {} });
      expect(snapshot.runners).toEqual([
        expect.objectContaining({
          name: runnerName,
          tier: 'trusted',
          state: 'ready',
          slots: 1,
          languages: ['python'],
          last_seen_at: expect.any(String),
        }),
      ]);
      expect(Date.now() - Date.parse(snapshot.runners[0].last_seen_at)).toBeLessThan(30_000);
      expect(Array.isArray(snapshot.jobs)).toBe(true);
      socket.close();
    }
  });

  it('shows jobs live as they queue, run and end, with their timings and never their code', async () => {
    const socket = await dashboard();
    await socket.next((f) => f.type === 'snapshot');
    const res = await post(`${url}/execute/code`, {
      lang: 'python',
      code: 'print("secret-admin-marker"[:6])',
    });
    expect(res.status).toBe(200);
    const id = res.body.id as string;
    const done = await jobFrame(socket, id, (job) => job.status === 'done');
    expect(done).toMatchObject({
      lang: 'python',
      reason: 'exited',
      exit_code: 0,
      runner: runnerName,
      attempt: 1,
      error: null,
      started_at: expect.any(String),
      finished_at: expect.any(String),
      timings: { queue_ms: expect.any(Number), run_ms: expect.any(Number), total_ms: expect.any(Number) },
    });
    // The runner's jobs done moved too.
    await socket.next(
      (f) => f.type === 'runners' && f.runners.some((r: Frame) => r.name === runnerName && r.jobs_done >= 1),
    );
    expect(JSON.stringify(socket.log)).not.toContain('secret-admin-marker');
    // docs/admin.md's worked transcript (written with CODEEXEC_TRANSCRIPTS=<dir>).
    await socket.transcript('admin-socket');

    // A new dashboard finds it in its snapshot.
    const later = await dashboard();
    const snapshot = await later.next((f) => f.type === 'snapshot');
    expect(snapshot.jobs[0]).toMatchObject({ id, status: 'done' });
    later.close();
    socket.close();
  });

  it('shows the queue by language while the runner is paused, and the runner pausing and resuming', async () => {
    const socket = await dashboard();
    await socket.next((f) => f.type === 'snapshot');
    runner.pause();
    await socket.next((f) => f.type === 'runners' && f.runners.some((r: Frame) => r.state === 'paused'));
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await post(`${url}/execute/async`, { lang: 'python', code: `print(${i})` });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    await socket.next((f) => f.type === 'queue' && f.queue.python === 2);
    await jobFrame(socket, ids[1]!, (job) => job.status === 'queued');
    runner.resume();
    await socket.next((f) => f.type === 'runners' && f.runners.some((r: Frame) => r.state === 'ready'));
    for (const id of ids) await jobFrame(socket, id, (job) => job.status === 'done');
    await socket.next((f) => f.type === 'queue' && f.queue.python === undefined);
    socket.close();
  });

  it('answers a frame sent to it with an error frame, and stays open', async () => {
    const socket = await dashboard();
    await socket.next((f) => f.type === 'snapshot');
    socket.send({ type: 'hello' });
    await socket.next((f) => f.type === 'error' && f.code === 'invalid_frame');
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    socket.close();
  });

  it('says when the runner leaves, and why', async () => {
    const socket = await dashboard();
    await socket.next((f) => f.type === 'snapshot');
    await runner.close();
    const frame = await socket.next(
      (f) => f.type === 'runners' && f.left.some((r: Frame) => r.name === runnerName),
    );
    expect(frame.left).toEqual([{ name: runnerName, reason: expect.any(String) }]);
    socket.close();
  });
});

describe('without admin keys', () => {
  it('opens to a caller on loopback with no key, on either transport', async () => {
    for (const transport of ['uws', 'ws'] as const) {
      const gw = await startGateway({ transport });
      const socket = await TestSocket.open(events(gw.url));
      expect(await socket.next((f) => f.type === 'snapshot')).toMatchObject({
        runners: [],
        queue: {},
        jobs: [],
      });
      socket.close();
    }
  });
});
