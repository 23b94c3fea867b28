// The fleet on a private PostgreSQL server (gateway/store/postgres/postgres-fleet.ts): gateways'
// leases, and what the living claim of a gateway whose lease ran out — each job exactly once,
// running jobs only where their runner is (or once it had time to come back), and a transition
// from the old owner refused once its job was claimed.
import { beforeAll, describe, expect, it } from 'vitest';
import { testJob } from '../gateway/store/job-store-conformance.js';
import { PostgresJobStore } from '../gateway/store/postgres/postgres-job-store.js';
import type { JobRecord } from '../shared/index.js';
import { teardown } from './helpers.js';
import { type PostgresServer, startPostgres } from './postgres-server.js';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
});

const info = { url: 'http://127.0.0.1:1', runners: [] };
const ids = (jobs: JobRecord[]) => jobs.map((job) => job.id).sort();

async function gatewayStore(url: string, owner: string): Promise<PostgresJobStore> {
  const store = new PostgresJobStore(url, { owner, synchronousCommit: false });
  teardown(() => store.close());
  await store.open();
  return store;
}

/** Waits until `id` is no longer a member (its lease ran out), asking the database. */
async function untilGone(store: PostgresJobStore, id: string): Promise<void> {
  await expect
    .poll(async () => (await store.fleet().members()).map((member) => member.id), { timeout: 10_000 })
    .not.toContain(id);
}

/** Stores for gateways a, b (and c), on one new database, and a's work: queued, running, ended. */
async function fleetWithWork() {
  const url = await server.createDatabase();
  const [a, b, c] = await Promise.all(['gw-a', 'gw-b', 'gw-c'].map((id) => gatewayStore(url, id)));
  await a!.fleet().beat(300, info);
  await b!.fleet().beat(60_000, info);
  await c!.fleet().beat(60_000, info);
  await a!.insert(testJob('queued'));
  for (const [id, runner] of [
    ['on-r1', 'r1'],
    ['on-r2', 'r2'],
  ] as const) {
    await a!.insert(testJob(id));
    await a!.transition(id, 'running', { runner_id: runner, attempt: 1 });
  }
  await a!.insert(testJob('called-back'));
  await a!.transition('called-back', 'running', { runner_id: 'r1', attempt: 1 });
  await a!.transition('called-back', 'done', {
    callback: { state: 'pending', attempts: 0, last_error: null, delivered_at: null },
  });
  await a!.insert(testJob('finished'));
  await a!.transition('finished', 'cancelled', {});
  return { url, a: a!, b: b!, c: c! };
}

describe('PostgresFleet', () => {
  it('lists the gateways whose lease runs, and forgets one that left', async () => {
    const url = await server.createDatabase();
    const a = await gatewayStore(url, 'gw-a');
    const b = await gatewayStore(url, 'gw-b');
    await a.fleet().beat(60_000, { url: 'http://127.0.0.1:1', runners: [] });
    await b.fleet().beat(60_000, { url: 'http://127.0.0.1:2', runners: [] });
    const members = await a.fleet().members();
    expect(members.map(({ id, url: where }) => [id, where])).toEqual([
      ['gw-a', 'http://127.0.0.1:1'],
      ['gw-b', 'http://127.0.0.1:2'],
    ]);
    expect(Date.parse(members[0]!.expires_at)).toBeGreaterThan(Date.now());
    await b.fleet().leave();
    expect((await a.fleet().members()).map((member) => member.id)).toEqual(['gw-a']);
    // What the caps count of the other gateways' jobs.
    await b.insert(testJob('b-1', { client: 'key:x' }));
    await b.insert(testJob('b-2', { client: 'key:x' }));
    await b.transition('b-2', 'running', { runner_id: 'r1', attempt: 1 });
    const usage = await a.fleet().usageElsewhere();
    expect([usage.queued, [...usage.byClient]]).toEqual([1, [['key:x', 2]]]);
    // Each store lists its own gateway's unfinished jobs only.
    await a.insert(testJob('mine'));
    expect(ids(await a.unfinished())).toEqual(['mine']);
    expect(ids(await b.unfinished())).toEqual(['b-1', 'b-2']);
  });

  it('claims nothing of a living gateway; once its lease ran out, its queued jobs and callbacks, and running jobs where their runner is', async () => {
    const { a, b } = await fleetWithWork();
    expect(await b.fleet().claimOrphans(['r1', 'r2'], 60_000, 100)).toEqual([]);
    await untilGone(b, 'gw-a');
    // r1 is connected to b; r2 is not, and it may still reconnect somewhere within the grace.
    const claimed = await b.fleet().claimOrphans(['r1'], 60_000, 100);
    expect(ids(claimed)).toEqual(['called-back', 'on-r1', 'queued']);
    expect(ids(await b.unfinished())).toEqual(['on-r1', 'queued']);
    expect(ids(await b.pendingCallbacks())).toEqual(['called-back']);
    // Past the grace, the running job whose runner came back nowhere is claimed too.
    expect(ids(await b.fleet().claimOrphans([], 0, 100))).toEqual(['on-r2']);
    // a's word no longer counts for them.
    await expect(a.transition('queued', 'cancelled', {})).rejects.toMatchObject({
      code: 'forbidden_transition',
      message: expect.stringContaining('held by gateway gw-b'),
    });
    expect((await b.get('queued'))?.status).toBe('queued');
  });

  it('gives each job to exactly one of two gateways claiming at once', async () => {
    const { url, a, b, c } = await fleetWithWork();
    for (let i = 0; i < 200; i++) await a.insert(testJob(`bulk-${String(i).padStart(3, '0')}`));
    await untilGone(b, 'gw-a');
    const claims = await Promise.all(
      [b, c].flatMap((store) => [1, 2, 3].map(() => store.fleet().claimOrphans([], 0, 40))),
    );
    const rest = [
      ...(await b.fleet().claimOrphans([], 0, 1000)),
      ...(await c.fleet().claimOrphans([], 0, 1000)),
    ];
    const all = [...claims.flat(), ...rest].map((job) => job.id);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(204);
    const owners = await server.psql(url, `SELECT count(*) FROM jobs WHERE owner NOT IN ('gw-b', 'gw-c')`);
    // Only the finished job without a pending callback stays a's.
    expect(owners).toBe('1');
  });

  it('claims a job a runner reports held only once its owner is gone, and never a finished one or another runner’s', async () => {
    const { a, b } = await fleetWithWork();
    expect(await b.fleet().claimHeld('on-r1', 'r1')).toEqual({ kind: 'owned', owner: 'gw-a' });
    expect(await b.fleet().claimHeld('finished', 'r1')).toEqual({ kind: 'ended' });
    expect(await b.fleet().claimHeld('on-r2', 'r1')).toEqual({ kind: 'ended' });
    expect(await b.fleet().claimHeld('no-such-job', 'r1')).toEqual({ kind: 'ended' });
    await a.fleet().leave();
    const answer = await b.fleet().claimHeld('on-r1', 'r1');
    expect(answer).toMatchObject({
      kind: 'claimed',
      job: { id: 'on-r1', status: 'running', runner_id: 'r1' },
    });
    // Asked again (a runner's hello and a beat at once): still b's, still claimed.
    expect(await b.fleet().claimHeld('on-r1', 'r1')).toMatchObject({ kind: 'claimed' });
    expect(ids(await b.unfinished())).toEqual(['on-r1']);
    await b.transition('on-r1', 'done', {});
  });

  it('hands queued jobs to another gateway, which takes them once; never a running one', async () => {
    const { a, b } = await fleetWithWork();
    const moved = await a.fleet().handOff(['queued', 'on-r1', 'finished', 'no-such-job'], 'gw-b');
    expect(moved).toEqual(['queued']);
    // Handed again by a gateway that no longer owns it: nothing moves.
    expect(await a.fleet().handOff(['queued'], 'gw-c')).toEqual([]);
    // What a gateway asks when its own lease may have run out: which of its jobs are others' now.
    expect(await a.fleet().ownedElsewhere(['queued', 'on-r1', 'no-such-job'])).toEqual(['queued']);
    expect(ids(await b.fleet().takeHanded())).toEqual(['queued']);
    expect(await b.fleet().takeHanded()).toEqual([]);
    expect(ids(await b.unfinished())).toEqual(['queued']);
    await expect(a.transition('queued', 'running', {})).rejects.toMatchObject({
      code: 'forbidden_transition',
    });
  });
});
