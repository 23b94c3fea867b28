// End to end: a gateway on PostgreSQL (a private server, test/postgres-server.ts) whose database
// goes away and comes back. While it is away, what needs the database answers 503
// store_unavailable with Retry-After, a submission is refused and never runs, and what the gateway
// holds in memory is still served; when it is back, the same gateway serves again, no restart.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../gateway/gateway.js';
import { startGateway } from './helpers.js';
import { type PostgresServer, startPostgres } from './postgres-server.js';
import { TestSocket } from './ws-client.js';

let postgres: PostgresServer;
let gw: { gateway: Gateway; url: string };

beforeAll(async () => {
  postgres = await startPostgres();
  gw = await startGateway({ store: await postgres.createDatabase(), queueTimeoutMs: 60_000 });
}, 60_000);

const post = (body: unknown) =>
  fetch(`${gw.url}/execute/async`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
// No runner: a job asking to wait stays queued, in the gateway's memory and in the database.
const job = { lang: 'python', code: 'print(1)', queue_timeout_ms: 60_000, task_id: 'kept' };

describe('PostgreSQL goes away and comes back', () => {
  it('answers 503 store_unavailable meanwhile, refuses submissions, and recovers by itself', async () => {
    const accepted = await post(job);
    expect(accepted.status).toBe(202);
    const { id } = (await accepted.json()) as { id: string };

    await postgres.stop();
    const listed = await fetch(`${gw.url}/execute?task_id=kept`);
    expect(listed.status).toBe(503);
    expect(listed.headers.get('retry-after')).toBe('5');
    expect(await listed.json()).toMatchObject({ error: { code: 'store_unavailable' } });
    // A queued job lives in the gateway's memory: its status is still known.
    const status = await fetch(`${gw.url}/execute/${id}/status`);
    expect(await status.json()).toMatchObject({ id, status: 'queued' });
    const refused = await post({ ...job, task_id: 'refused' });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: { code: 'store_unavailable' } });
    const ws = await TestSocket.open(`${gw.url}/execute/ws`);
    ws.send({ type: 'execute', id: 'w', ...job, task_id: 'refused' });
    await ws.next((f) => f.type === 'exit');
    ws.close();
    const frames = ws.frames;
    // Over the socket the job was accepted at once; the failed insert ends it, unrun.
    expect(frames.map((f) => f.type)).toEqual(['accepted', 'exit']);
    expect(frames[1]).toMatchObject({ result: { status: 'failed', error: { code: 'store_unavailable' } } });

    await postgres.start();
    const again = await fetch(`${gw.url}/execute?task_id=kept`);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { jobs: { id: string }[] }).jobs.map((j) => j.id)).toEqual([id]);
    const none = await fetch(`${gw.url}/execute?task_id=refused`);
    expect(((await none.json()) as { jobs: unknown[] }).jobs).toEqual([]);
    expect((await post({ ...job, task_id: 'after' })).status).toBe(202);
  }, 60_000);
});
