// Trust tiers and verified results through the dispatcher, on a fake clock with runners that only
// record frames: `trusted` jobs never reach a donor, donor limits, replicas on different
// identities, quorum agreement, a lying donor outvoted by a trusted tie-breaker, reliability,
// quarantine, the cap, cancellation, and a job handed back by a suspended donor.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../shared/index.js';
import { type Core, dispatchCore, type FakeRunner, result } from './dispatcher-fixture.js';

let core: Core;
beforeEach(() => {
  core = dispatchCore();
});
afterEach(() => core.close());

const submit = (over: Record<string, unknown> = {}) =>
  core.intake.submit({ lang: 'python', code: 'print(1)', ...over }, false, null).job;
const stored = async (id: string) => (await core.book.find(id)) as JobRecord;
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const donor = (name: string, identity = `donor:${name}`, slots = 2) =>
  core.connect(name, { tier: 'donor', identity, slots });
/** Accepts and finishes every job offered to the runner so far, with this stdout. */
const runAll = (runner: FakeRunner, stdout: string) => {
  for (const id of core.offers(runner)) {
    if (core.book.get(id)?.status !== 'queued') continue;
    core.dispatcher.accepted(runner, id);
    core.dispatcher.done(runner, id, result(stdout));
  }
};

describe('trust tiers', () => {
  it('a trusted job never goes to a donor, and waits for a trusted runner', async () => {
    const d = donor('d1');
    const job = submit({ trust: 'trusted', queue_timeout_ms: 60_000 });
    await settle();
    expect(core.offers(d)).toEqual([]);
    const t = core.connect('t1');
    expect(core.offers(t)).toEqual([job.id]);
  });

  it('refuses a trusted job at once when only donors offer the language', () => {
    donor('d1');
    expect(() => submit({ trust: 'trusted' })).toThrow(/No connected trusted runner offers python/);
  });

  it('an `any` job may run on a donor', async () => {
    const d = donor('d1');
    const job = submit();
    await settle();
    expect(core.offers(d)).toEqual([job.id]);
  });

  it('a job asking more than donors give runs only on trusted runners', async () => {
    core.close();
    core = dispatchCore({
      donorMax: { wall_time_ms: 5_000, cpu_time_ms: 5_000, memory_bytes: 2 ** 28, output_bytes: 2 ** 20 },
    });
    const d = donor('d1');
    const big = submit({ limits: { wall_time_ms: 20_000 }, queue_timeout_ms: 60_000 });
    await settle();
    expect(core.offers(d)).toEqual([]);
    const t = core.connect('t1');
    expect(core.offers(t)).toEqual([big.id]);
  });
});

describe('verified jobs', () => {
  it('runs quorum replicas on different donor identities and accepts what they agree on', async () => {
    const a = donor('a');
    const b = donor('b');
    const job = submit({ verify: { quorum: 2 } });
    await settle();
    // Not offered itself: two replicas, one per identity.
    expect(core.offers(a)).toHaveLength(1);
    expect(core.offers(b)).toHaveLength(1);
    expect(core.offers(a)).not.toContain(job.id);
    runAll(a, 'same\n');
    expect((await stored(job.id)).status).toBe('running');
    runAll(b, 'same\n');
    const done = await stored(job.id);
    expect(done).toMatchObject({ status: 'done', stdout: 'same\n', exit_code: 0 });
    expect(done.verification).toMatchObject({ state: 'agreed', quorum: 2 });
    expect(done.verification!.replicas.map((r) => [r.runner_id, r.tier, r.agreed]).sort()).toEqual([
      ['a', 'donor', true],
      ['b', 'donor', true],
    ]);
    expect(core.reliability.get('donor:a')).toMatchObject({ agreed: 1, disagreed: 0 });
  });

  it('never places two replicas on one identity, even two runners of the same donor', async () => {
    const a1 = donor('a1', 'donor:same');
    const a2 = donor('a2', 'donor:same');
    submit({ verify: { quorum: 2 }, queue_timeout_ms: 60_000 });
    await settle();
    expect(core.offers(a1).length + core.offers(a2).length).toBe(1);
    const c = donor('c');
    expect(core.offers(c)).toHaveLength(1);
  });

  it('a lying donor is outvoted: the tie-breaker runs on a trusted runner', async () => {
    const honest = donor('honest');
    const liar = donor('liar');
    const trusted = core.connect('trusted', { slots: 1 });
    // The trusted runner is busy with something else while the donors take the replicas.
    const other = submit({ trust: 'trusted' });
    await settle();
    expect(core.offers(trusted)).toEqual([other.id]);
    core.dispatcher.accepted(trusted, other.id);
    const job = submit({ verify: { quorum: 2 } });
    await settle();
    runAll(honest, '42\n');
    runAll(liar, '41\n');
    expect((await stored(job.id)).status).toBe('running');
    // The tie-breaker waits for the trusted runner, not for a donor with a free slot.
    expect(core.offers(honest)).toHaveLength(1);
    expect(core.offers(liar)).toHaveLength(1);
    core.dispatcher.done(trusted, other.id, result(''));
    const tieBreaker = core.offers(trusted)[1]!;
    expect(core.book.get(tieBreaker)).toMatchObject({ replica_of: job.id, trust: 'trusted' });
    runAll(trusted, '42\n');
    const done = await stored(job.id);
    expect(done).toMatchObject({ status: 'done', stdout: '42\n' });
    const byRunner = Object.fromEntries(done.verification!.replicas.map((r) => [r.runner_id, r.agreed]));
    expect(byRunner).toEqual({ honest: true, liar: false, trusted: true });
    expect(core.reliability.get('donor:liar')).toMatchObject({ disagreed: 1, streak: 0 });
    expect(core.reliability.standing('donor:liar').standing).toBe('doubtful');
  });

  it('a doubtful donor is offered work only after runners in good standing', async () => {
    core.reliability.disagreed('donor:liar', new Date().toISOString());
    const liar = donor('liar');
    const good = donor('good');
    const job = submit();
    await settle();
    expect(core.offers(good)).toEqual([job.id]);
    expect(core.offers(liar)).toEqual([]);
  });

  it('a quarantined identity stays connected but is offered nothing', async () => {
    core.reliability.quarantine('donor:q', true);
    const q = donor('q');
    submit({ queue_timeout_ms: 60_000 });
    await settle();
    expect(core.offers(q)).toEqual([]);
  });

  it('fails unverified when no quorum agrees within max_replicas', async () => {
    const runners = ['a', 'b', 'c'].map((name) => donor(name));
    const job = submit({ verify: { quorum: 2, max_replicas: 3 } });
    await settle();
    runAll(runners[0]!, 'one');
    runAll(runners[1]!, 'two');
    await settle();
    runAll(runners[2]!, 'three');
    const failed = await stored(job.id);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'unverified' } });
    expect(failed.verification).toMatchObject({ state: 'unverified' });
    expect(failed.verification!.replicas).toHaveLength(3);
  });

  it("quorum 1 is one runner's word: state single", async () => {
    const a = donor('a');
    const job = submit({ verify: { quorum: 1 } });
    await settle();
    runAll(a, 'x');
    expect((await stored(job.id)).verification).toMatchObject({ state: 'single', quorum: 1 });
  });

  it('fails with no_runner when too few identities can take the replicas', async () => {
    core.close();
    core = dispatchCore({ queueTimeoutMs: 1_000 });
    donor('only');
    const job = submit({ verify: { quorum: 2 } });
    await settle();
    core.clock.advance(1_000);
    const failed = await stored(job.id);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'no_runner' } });
    expect(failed.error!.message).toMatch(/different identities/);
  });

  it('cancelling a verified job cancels its replicas', async () => {
    const a = donor('a');
    const b = donor('b');
    const job = submit({ verify: { quorum: 2 } });
    await settle();
    const replica = core.offers(a)[0]!;
    core.dispatcher.accepted(a, replica);
    core.dispatcher.cancel(job.id);
    expect((await stored(job.id)).status).toBe('cancelled');
    expect(a.sent.some((f) => f.type === 'cancel' && f.job_id === replica)).toBe(true);
    expect((await stored(core.offers(b)[0]!)).status).toBe('cancelled');
  });

  it('refuses verify on an interactive job', () => {
    donor('a');
    expect(() => core.intake.submit({ lang: 'python', code: '', verify: { quorum: 2 } }, true, null)).toThrow(
      /cannot be interactive/,
    );
  });
});

describe('a gateway restart', () => {
  it('starts an unfinished verified job over: old replicas cancelled, new ones run', async () => {
    const a = donor('a');
    const job = submit({ verify: { quorum: 2 } });
    await settle();
    const old = core.offers(a)[0]!;
    core.dispatcher.accepted(a, old);
    await core.book.flush();
    core.close();

    core = dispatchCore({ store: core.store });
    await core.dispatcher.recover();
    expect((await stored(old)).status).toBe('cancelled');
    expect((await stored(job.id)).status).toBe('queued');
    const a2 = donor('a');
    const b2 = donor('b');
    // The old replica is cancelled on the runner that still holds it, if it comes back with it.
    runAll(a2, 'same');
    runAll(b2, 'same');
    const done = await stored(job.id);
    expect(done).toMatchObject({ status: 'done', stdout: 'same', verification: { state: 'agreed' } });
    expect(done.verification!.replicas.map((r) => r.job_id)).not.toContain(old);
  });
});

describe('hand-back', () => {
  it('a job handed back waits again without using up an attempt', async () => {
    const d = donor('d');
    const job = submit();
    await settle();
    core.dispatcher.accepted(d, job.id);
    expect((await stored(job.id)).attempt).toBe(1);
    core.registry.setCapacity(d, 2, true);
    core.dispatcher.handedBack(d, job.id, 'owner suspended the donor');
    expect(await stored(job.id)).toMatchObject({ status: 'queued', attempt: 0, runner_id: null });
    const t = core.connect('t');
    expect(core.offers(t)).toEqual([job.id]);
  });
});
