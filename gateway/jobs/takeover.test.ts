// A gateway taking over the work of one that died (what fleet-keeper.ts hands the dispatcher), on
// plain data: two cores share an in-memory store; the first runs jobs and is dropped without a
// word; the second takes its jobs in — queued ones offered, running ones held by the runner that
// reconnects with them (its result kept while the claim was under way), or run again when their
// runner came back without them or never came back.
import { afterEach, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../shared/index.js';
import { MemoryJobStore } from '../store/memory-job-store.js';
import { type Core, dispatchCore, result } from './dispatcher-fixture.js';

const cores: Core[] = [];
afterEach(() => {
  for (const core of cores.splice(0)) core.close();
});
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Gateway A with two jobs running (on r1 and r2) and one queued; then B on the same store. */
async function afterDeath() {
  const store = new MemoryJobStore();
  const a = dispatchCore({ store });
  const b = dispatchCore({ store, leaseMs: 15_000 });
  cores.push(a, b);
  const r1 = a.connect('r1', { slots: 1 });
  const r2 = a.connect('r2', { slots: 1 });
  const submit = () => a.intake.submit({ lang: 'python', code: 'print(1)' }, false, null).job;
  const [one, two, three] = [submit(), submit(), submit()];
  await settle();
  a.dispatcher.accepted(r1, one!.id);
  a.dispatcher.accepted(r2, two!.id);
  await settle();
  // A dies here: nothing more from it. B learns of A's jobs as the fleet claims them.
  const claimed = async () => (await store.unfinished()) as JobRecord[];
  const claims: string[] = [];
  b.dispatcher.setClaimHeld((_runner, id) => claims.push(id));
  return { b, store, claimed, claims, ids: [one!.id, two!.id, three!.id] as const };
}

describe('taking over a gateway that died', () => {
  it('asks for a job a reconnecting runner holds instead of cancelling it, and keeps its result meanwhile', async () => {
    const { b, claimed, claims, ids } = await afterDeath();
    const r1 = b.connect('r1', { slots: 1, held: [ids[0]] });
    expect(claims).toEqual([ids[0]]);
    expect(r1.sent.filter((f) => f.type === 'cancel')).toEqual([]);
    // It finishes before the claim is answered: its result waits.
    b.dispatcher.done(r1, ids[0], result('one\n'));
    b.dispatcher.takeOver(await claimed());
    await settle();
    expect(await b.book.find(ids[0])).toMatchObject({ status: 'done', stdout: 'one\n', attempt: 1 });
  });

  it('offers the queued jobs, and runs again a job whose runner came back without it', async () => {
    const { b, claimed, ids } = await afterDeath();
    const r2 = b.connect('r2', { slots: 2 });
    b.dispatcher.takeOver(await claimed());
    await settle();
    // r2 did not list ids[1] in its hello: it is not running anywhere, so it waits again.
    expect(await b.book.find(ids[1])).toMatchObject({ status: 'queued', attempt: 1 });
    expect(b.offers(r2).sort()).toEqual([ids[1], ids[2]].sort());
  });

  it('gives a running job whose runner is elsewhere a lease, then runs it again', async () => {
    const { b, claimed, ids } = await afterDeath();
    b.dispatcher.takeOver(await claimed());
    await settle();
    expect((await b.book.find(ids[0]))?.status).toBe('running');
    b.clock.advance(15_000);
    await settle();
    expect(await b.book.find(ids[0])).toMatchObject({ status: 'queued', attempt: 1 });
  });

  it('tells the runner to drop a job the fleet will not give this gateway', async () => {
    const { b, claims, ids } = await afterDeath();
    const r1 = b.connect('r1', { slots: 1, held: [ids[0]] });
    expect(claims).toEqual([ids[0]]);
    b.dispatcher.heldClaimRefused(r1, ids[0]);
    expect(r1.sent.filter((f) => f.type === 'cancel').map((f) => f.job_id)).toEqual([ids[0]]);
    // Its late result is not taken.
    b.dispatcher.done(r1, ids[0], result('late\n'));
    expect(b.book.get(ids[0])).toBeUndefined();
  });

  it('takes a job claimed twice over (a runner and a beat at once) only once', async () => {
    const { b, claimed, ids } = await afterDeath();
    const r1 = b.connect('r1', { slots: 1, held: [ids[0]] });
    const jobs = await claimed();
    b.dispatcher.takeOver(jobs);
    b.dispatcher.takeOver(jobs);
    await settle();
    expect(b.book.queuedCount).toBe(1);
    b.dispatcher.done(r1, ids[0], result('once\n'));
    await settle();
    expect(await b.book.find(ids[0])).toMatchObject({ status: 'done', stdout: 'once\n' });
  });

  it('lets go of jobs another gateway claimed while its lease had run out: no write, runner told', async () => {
    const store = new MemoryJobStore();
    const a = dispatchCore({ store });
    cores.push(a);
    const r1 = a.connect('r1', { slots: 2 });
    const submit = () => a.intake.submit({ lang: 'python', code: 'print(1)' }, false, null).job;
    const [running, queued] = [submit(), submit()];
    await settle();
    a.dispatcher.accepted(r1, running!.id);
    a.dispatcher.rejected(r1, queued!.id, 'busy');
    await settle();
    const before = [await store.get(running!.id), await store.get(queued!.id)];
    a.dispatcher.letGo([running!.id, queued!.id]);
    expect([a.book.get(running!.id), a.book.get(queued!.id)]).toEqual([undefined, undefined]);
    expect(r1.sent.filter((f) => f.type === 'cancel').map((f) => f.job_id)).toEqual([running!.id]);
    expect(r1.running.size).toBe(0);
    // Its late result is not taken, and nothing was written.
    a.dispatcher.done(r1, running!.id, result('late\n'));
    await settle();
    expect([await store.get(running!.id), await store.get(queued!.id)]).toEqual(before);
    expect(a.book.queuedCount).toBe(0);
  });
});
