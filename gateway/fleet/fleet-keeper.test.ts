// The fleet keeper over a fleet made of plain data: what a beat claims goes to takeOver (unfinished
// jobs) or to the callback sender (finished ones); a runner's held job is claimed at once when its
// owner is gone, asked again on each beat while a living gateway keeps it, and dropped after two
// leases; a fleet of one claims nothing.
import { describe, expect, it } from 'vitest';
import { type JobRecord, silentLogger } from '../../shared/index.js';
import type { RunnerConnection } from '../runners/runner-connection.js';
import { testJob } from '../store/job-store-conformance.js';
import { type Fleet, type HeldClaim, NO_USAGE } from './fleet.js';
import { runnerView } from './fleet-fixtures.js';
import { FleetKeeper } from './fleet-keeper.js';
import type { QueuedHere } from './handoff.js';
import { SoloFleet } from './solo-fleet.js';

function keeperOver(fleet: Partial<Fleet>, movable: QueuedHere[] = []) {
  let now = 0;
  const nudged: string[] = [];
  const handed: string[][] = [];
  const took: string[][] = [];
  const refused: string[] = [];
  const called: string[] = [];
  const beats: number[] = [];
  const letGo: string[][] = [];
  const keeper = new FleetKeeper({
    fleet: {
      id: 'gw-b',
      shared: true,
      beat: async (ttl) => {
        beats.push(ttl);
      },
      leave: async () => {},
      claimOrphans: async () => [],
      claimHeld: async () => ({ kind: 'ended' }),
      handOff: async () => [],
      takeHanded: async () => [],
      ownedElsewhere: async () => [],
      usageElsewhere: async () => NO_USAGE,
      members: async () => [],
      ...fleet,
    } as Fleet,
    ttlMs: 3_000,
    info: () => ({ url: 'http://127.0.0.1:1', runners: [] }),
    runners: () => ['r1'],
    takeOver: (jobs) => took.push(jobs.map((job) => job.id)),
    refuseHeld: (_runner, id) => refused.push(id),
    deliverCallback: (job) => called.push(job.id),
    movable: () => movable,
    here: () => [],
    handOff: async (ids, move) => {
      const moved = await move([...ids]);
      handed.push(moved);
      return moved;
    },
    nudge: (to) => nudged.push(to),
    owned: () => ['a', 'b'],
    letGo: (ids) => letGo.push(ids),
    log: silentLogger,
    now: () => now,
  });
  const advance = (ms: number) => (now += ms);
  /** In the fleet for a whole lease: it claims from now on. */
  const steady = async () => {
    await keeper.join();
    advance(3_000);
  };
  return { keeper, took, refused, called, beats, nudged, handed, letGo, advance, steady };
}

const runner = { name: 'r1' } as RunnerConnection;
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('FleetKeeper', () => {
  it('beats, and hands what it claimed to takeOver or to the callbacks', async () => {
    const batches: JobRecord[][] = [
      [testJob('q'), testJob('r', { status: 'running', runner_id: 'r1' }), testJob('d', { status: 'done' })],
      [],
    ];
    const { keeper, took, called, beats, steady } = keeperOver({
      claimOrphans: async () => batches.shift() ?? [],
    });
    await steady();
    await keeper.beat();
    expect(beats).toEqual([3_000, 3_000]);
    expect(took).toEqual([['q', 'r']]);
    expect(called).toEqual(['d']);
  });

  it('claims a held job at once when its owner is gone', async () => {
    const { keeper, took, refused, steady } = keeperOver({
      claimHeld: async (id) => ({
        kind: 'claimed',
        job: testJob(id, { status: 'running', runner_id: 'r1' }),
      }),
    });
    await steady();
    keeper.claimHeld(runner, 'j');
    await settle();
    expect(took).toEqual([['j']]);
    expect(refused).toEqual([]);
  });

  it('asks again on each beat while a living gateway keeps it, and gives up after two leases', async () => {
    const answers: HeldClaim[] = [{ kind: 'owned', owner: 'gw-a' }];
    const { keeper, took, refused, advance, steady } = keeperOver({
      claimHeld: async () => answers[0]!,
    });
    await steady();
    keeper.claimHeld(runner, 'j');
    await settle();
    advance(3_000);
    await keeper.beat();
    expect([took, refused]).toEqual([[], []]);
    advance(3_000);
    await keeper.beat();
    expect(refused).toEqual(['j']);
    // Once given up, a later answer changes nothing.
    answers[0] = { kind: 'claimed', job: testJob('j') };
    await keeper.beat();
    expect(took).toEqual([]);
  });

  it('takes it when its owner’s lease runs out between two beats', async () => {
    const answers: HeldClaim[] = [{ kind: 'owned', owner: 'gw-a' }];
    const { keeper, took, advance, steady } = keeperOver({ claimHeld: async () => answers[0]! });
    await steady();
    keeper.claimHeld(runner, 'j');
    await settle();
    answers[0] = { kind: 'claimed', job: testJob('j', { status: 'running', runner_id: 'r1' }) };
    advance(1_000);
    await keeper.beat();
    expect(took).toEqual([['j']]);
  });

  it('refuses at once in a fleet of one, and lists itself while its lease runs', async () => {
    const solo = new SoloFleet('gw-solo');
    const refused: string[] = [];
    const keeper = new FleetKeeper({
      fleet: solo,
      ttlMs: 60_000,
      info: () => ({ url: 'http://127.0.0.1:1', runners: [] }),
      runners: () => [],
      takeOver: () => {
        throw new Error('nothing to take over');
      },
      refuseHeld: (_runner, id) => refused.push(id),
      deliverCallback: () => {},
      movable: () => [],
      here: () => [],
      handOff: async () => [],
      nudge: () => {},
      owned: () => [],
      letGo: () => {},
      log: silentLogger,
    });
    await keeper.join();
    keeper.claimHeld(runner, 'j');
    expect(refused).toEqual(['j']);
    expect((await solo.members()).map((member) => member.id)).toEqual(['gw-solo']);
    await keeper.stop();
    expect(await solo.members()).toEqual([]);
  });

  it('hands a job no runner here can run to a gateway whose runners can, and nudges it', async () => {
    const runnerB = runnerView('rb');
    const handedTo: string[] = [];
    const { keeper, nudged, handed } = keeperOver(
      {
        members: async () => [
          { id: 'gw-b', url: '', runners: [], expires_at: '' },
          { id: 'gw-x', url: '', runners: [runnerB], expires_at: '' },
        ],
        handOff: async (ids, to) => {
          handedTo.push(to);
          return [...ids];
        },
      },
      [{ id: 'j', placement: { lang: 'python', labels: [], refusedBy: [], trust: 'any' }, waitedMs: 0 }],
    );
    await keeper.beat();
    expect(keeper.elsewhere().map((runner) => runner.id)).toEqual(['rb']);
    expect(keeper.gateways()).toBe(2);
    expect([handed, handedTo, nudged]).toEqual([[['j']], ['gw-x'], ['gw-x']]);
  });

  it('takes what was handed to it when asked', async () => {
    const { keeper, took } = keeperOver({ takeHanded: async () => [testJob('h1'), testJob('h2')] });
    await keeper.takeHanded();
    expect(took).toEqual([['h1', 'h2']]);
  });

  it('claims nothing for a whole lease after the database was out of reach', async () => {
    let reachable = false;
    const claims: number[] = [];
    const { keeper, advance, took } = keeperOver({
      beat: async () => {
        if (!reachable) throw new Error('database away');
      },
      claimOrphans: async () => {
        claims.push(1);
        return [testJob('q')];
      },
    });
    await keeper.beat();
    reachable = true;
    advance(1_000);
    // Back: the others' leases look run out, but they may just not have beaten yet.
    await keeper.beat();
    advance(1_000);
    await keeper.beat();
    advance(1_000);
    await keeper.beat();
    expect(claims).toEqual([]);
    // A whole lease (3 s) of beats since it came back.
    advance(1_000);
    await keeper.beat();
    expect(took).toEqual([['q']]);
  });

  it('lets go of the jobs others claimed while its own lease may have run out', async () => {
    const { keeper, advance, letGo, steady } = keeperOver({ ownedElsewhere: async () => ['b'] });
    await steady();
    await keeper.beat();
    expect(letGo).toEqual([['b']]);
    // Beating in time: nothing to check.
    advance(1_000);
    await keeper.beat();
    expect(letGo).toEqual([['b']]);
  });
});
