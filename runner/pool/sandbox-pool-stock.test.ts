// The warm stock with a fake driver: containers made ahead of demand with a prepared exec, refilled
// in the background within [minWarm, maxWarm], spent ones removed at once or when the pool is quiet,
// and a driver without the optional methods. sandbox-pool.test.ts runs the same on the real engine.
import { describe, expect, it } from 'vitest';
import type { PoolOptions } from './sandbox-pool.js';
import { FakeDocker, fakeJob, fakePool, Gate } from './sandbox-pool-fake.js';

/**
 * Lets everything the fake driver has already set in motion run: its calls resolve through
 * promises and immediates, so what would happen (a removal, a settle) happens within these turns.
 * For checks that something does not happen, instead of a wall-clock wait.
 */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Jobs the fake has started (they wait at docker.jobGate). */
function started(docker: FakeDocker): number {
  return docker.ran.length;
}

describe('SandboxPool warm stock (fake driver)', () => {
  it('creates and starts minWarm containers ahead of demand, each with a prepared exec', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker, { minWarm: 3, maxWarm: 4 });
    await pool.start();
    await pool.settled();
    expect(docker.live.size).toBe(3);
    for (const id of docker.live.keys()) expect(docker.preparedIn(id)?.alive).toBe(true);
    await pool.close();
    expect(docker.live.size).toBe(0);
  });

  it("runs the job's first exec in the prepared exec, and refills in the background", async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker);
    await pool.start();
    await pool.settled();
    const [first] = [...docker.live.keys()];
    const result = await pool.execute(fakeJob(), () => {});
    expect(result.stdout).toBe(`ran in ${first}\n`);
    expect(docker.ran).toEqual([{ id: first, prepared: true }]);
    await pool.settled();
    expect(docker.removed).toEqual([first]);
    expect(docker.live.size).toBe(1);
    await pool.close();
  });

  it('grows the stock with jobs in flight up to maxWarm, never past it', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker, { minWarm: 1, maxWarm: 3, maxDeferred: 0 });
    await pool.start();
    const gate = new Gate();
    docker.jobGate = gate.wait;
    const running = Array.from({ length: 6 }, () => pool.execute(fakeJob(), () => {}));
    await expect.poll(() => started(docker)).toBe(6);
    await pool.settled();
    // Six leased, plus warm ones up to maxWarm.
    expect(docker.live.size).toBe(6 + 3);
    gate.open();
    await Promise.all(running);
    await pool.settled();
    expect(docker.live.size).toBe(3);
    await pool.close();
  });

  it('reports its containers by state, its warm target and waiting jobs (for metrics)', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker, { minWarm: 1, maxWarm: 2, maxDeferred: 0 });
    const creating = new Gate();
    docker.gate = creating.wait;
    const starting = pool.start();
    const stock = (extra = {}) => [
      {
        language: 'python',
        starting: 0,
        warm: 0,
        inUse: 0,
        removing: 0,
        warmTarget: 1,
        waiting: 0,
        ...extra,
      },
    ];
    // The version probe's container is being made.
    await expect.poll(() => pool.stockByLanguage()).toEqual(stock({ starting: 1 }));
    creating.open();
    docker.gate = null;
    await starting;
    await pool.settled();
    expect(pool.stockByLanguage()).toEqual(stock({ warm: 1 }));
    const held = new Gate();
    docker.jobGate = held.wait;
    const creations = new Gate();
    docker.gate = creations.wait;
    // The first job takes the warm container; the second waits for one to be made.
    const running = [pool.execute(fakeJob(), () => {}), pool.execute(fakeJob(), () => {})];
    await expect.poll(() => pool.stockByLanguage()[0]).toMatchObject({ inUse: 1, waiting: 1, warm: 0 });
    expect(pool.stockByLanguage()[0]?.starting).toBeGreaterThanOrEqual(1);
    creations.open();
    docker.gate = null;
    await expect.poll(() => started(docker)).toBe(2);
    await pool.settled();
    // Busy: one warm container per running job, within maxWarm.
    expect(pool.stockByLanguage()).toEqual(stock({ inUse: 2, warm: 2, warmTarget: 2 }));
    held.open();
    await Promise.all(running);
    await pool.settled();
    expect(pool.stockByLanguage()[0]).toMatchObject({ inUse: 0, removing: 0, starting: 0 });
    await pool.close();
    expect(pool.stockByLanguage()).toEqual(stock({ warmTarget: 0 }));
  });

  it('replaces a warm container whose prepared exec ended, never handing it out', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker);
    await pool.start();
    await pool.settled();
    const [first] = [...docker.live.keys()];
    docker.preparedIn(first ?? '')?.die();
    const result = await pool.execute(fakeJob(), () => {});
    expect(result.stdout).not.toBe(`ran in ${first}\n`);
    expect(docker.removed).toContain(first);
    await pool.close();
  });

  it('retries in another container when a prepared exec had ended unnoticed', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker, { minWarm: 2 });
    await pool.start();
    await pool.settled();
    const [first] = [...docker.live.keys()];
    const prepared = docker.preparedIn(first ?? '');
    if (prepared) prepared.broken = true;
    const result = await pool.execute(fakeJob(), () => {});
    expect(result).toMatchObject({ reason: 'exited', exit_code: 0 });
    expect(result.stdout).not.toBe(`ran in ${first}\n`);
    expect(docker.ran.map((r) => r.id)).not.toContain(first);
    await pool.settled();
    expect(docker.removed).toContain(first);
    await pool.close();
  });

  it('defers removing an idle spent container while jobs run, and removes it once quiet', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker, { minWarm: 2, quietMs: 1 });
    await pool.start();
    await pool.settled();
    const gate = new Gate();
    docker.jobGate = gate.wait;
    const slow = pool.execute(fakeJob(), () => {});
    await expect.poll(() => started(docker)).toBe(1);
    docker.jobGate = null;
    const quick = await pool.execute(fakeJob(), () => {});
    const quickId = quick.stdout.slice('ran in '.length).trim();
    await turns(50);
    expect(docker.removed).not.toContain(quickId); // the slow job still runs
    gate.open();
    await slow;
    await pool.settled();
    expect(docker.removed).toContain(quickId);
    await pool.close();
  });

  it('removes at once a spent container that still runs something, even while jobs run', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker, { minWarm: 2 });
    await pool.start();
    await pool.settled();
    const gate = new Gate();
    docker.jobGate = gate.wait;
    const slow = pool.execute(fakeJob(), () => {});
    await expect.poll(() => started(docker)).toBe(1);
    docker.jobGate = null;
    for (const id of docker.live.keys()) docker.leftovers.add(id);
    const quick = await pool.execute(fakeJob(), () => {});
    const quickId = quick.stdout.slice('ran in '.length).trim();
    await expect.poll(() => docker.removed).toContain(quickId);
    gate.open();
    await slow;
    await pool.close();
  });

  it.each<[string, Partial<PoolOptions>]>([
    ['jobs wait for creations (saturated)', {}],
    ['the pool has been busy for longer than a burst', { burstMs: 0 }],
  ])('removes a spent container at once while %s', async (_when, options) => {
    const docker = new FakeDocker();
    const pool = fakePool(docker, { quietMs: 60_000, ...options });
    await pool.start();
    await expect.poll(() => docker.live.size).toBe(1);
    const creations = new Gate();
    docker.gate = creations.wait; // refills are held: a second job has to wait
    const held = new Gate();
    docker.jobGate = held.wait;
    const first = pool.execute(fakeJob(), () => {}); // takes the warm container and holds it
    await expect.poll(() => started(docker)).toBe(1);
    const second = options.burstMs === 0 ? null : pool.execute(fakeJob(), () => {});
    docker.jobGate = null;
    held.open();
    const firstId = (await first).stdout.slice('ran in '.length).trim();
    await expect.poll(() => docker.removed).toContain(firstId);
    creations.open();
    await second;
    await pool.close();
  });

  it('keeps at most maxDeferred spent containers waiting', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker, { minWarm: 1, maxWarm: 4, maxDeferred: 1 });
    await pool.start();
    const gate = new Gate();
    docker.jobGate = gate.wait;
    const slow = pool.execute(fakeJob(), () => {});
    await expect.poll(() => started(docker)).toBe(1);
    docker.jobGate = null;
    for (let i = 0; i < 3; i++) await pool.execute(fakeJob(), () => {});
    // Three spent while the slow job runs: one may wait, two are removed at once.
    await expect.poll(() => docker.removed.length).toBe(2);
    gate.open();
    await slow;
    await pool.settled();
    expect(docker.removed.length).toBe(4);
    await pool.close();
  });

  it('removes deferred containers at close', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker, { quietMs: 60_000 });
    await pool.start();
    await pool.execute(fakeJob(), () => {});
    await pool.close();
    expect(docker.live.size).toBe(0);
  });

  it('works with a driver that has neither prepareExec nor usage', async () => {
    const docker = new FakeDocker({ modern: false });
    const pool = fakePool(docker);
    await pool.start();
    await pool.settled();
    const [first] = [...docker.live.keys()];
    await pool.execute(fakeJob(), () => {});
    expect(docker.ran).toEqual([{ id: first, prepared: false }]);
    expect(docker.removed).toEqual([first]); // removed at once: nothing tells it is idle
    await pool.close();
  });

  it('settles only once refills and removals are done', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker);
    await pool.start();
    await pool.settled();
    const gate = new Gate();
    docker.gate = gate.wait;
    await pool.execute(fakeJob(), () => {});
    let settled = false;
    const done = pool.settled().then(() => {
      settled = true;
    });
    await turns(50);
    expect(settled).toBe(false); // the refill is held
    gate.open();
    await done;
    expect(docker.live.size).toBe(1);
    await pool.close();
  });
});
