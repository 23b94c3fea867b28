// The pool's bookkeeping with a fake driver at the Docker seam: concurrency of creations,
// replacement of dead containers, retries, unavailable languages, close. The real engine is
// exercised in sandbox-pool.test.ts.
import { describe, expect, it } from 'vitest';
import type { LanguageSpec } from '../../shared/languages.js';
import { DEFAULT_LIMITS } from '../../shared/limits.js';
import type { SandboxContainerSpec } from '../docker/docker-sandbox.js';
import { LANGUAGE_LABEL, RUNNER_ID_LABEL, RUNNER_LABEL } from './sandbox-pool.js';
import { FAKE_PYTHON, FakeDocker, fakeJob, fakePool, Gate } from './sandbox-pool-fake.js';

const PY = FAKE_PYTHON;
const GONE: LanguageSpec = { ...PY, name: 'gone', aliases: [], image: 'img/missing' };

describe('SandboxPool (fake driver)', () => {
  it('removes its orphans first (by identity, not name) and reports only languages whose image exists', async () => {
    const docker = new FakeDocker();
    const labelled = (id: string) =>
      ({ labels: { [RUNNER_LABEL]: 'unit', [RUNNER_ID_LABEL]: id } }) as unknown as SandboxContainerSpec;
    docker.live.set('orphan', labelled('unit-id'));
    docker.live.set('namesake', labelled('other-id'));
    const pool = fakePool(docker, { languages: [PY, GONE], runnerId: 'unit-id' });
    expect(await pool.start()).toEqual([{ name: 'python', version: '3.11.2', aliases: ['py'] }]);
    expect(docker.removed).toContain('orphan');
    expect(docker.removed).not.toContain('namesake');
    expect(pool.unavailable.get('gone')).toMatch(/img\/missing not found/);
    expect(pool.missingImages).toEqual(['gone']);
    await expect(pool.execute(fakeJob({ code: 'x', lang: 'gone' }), () => {})).rejects.toMatchObject({
      code: 'unknown_language',
    });
    await pool.close();
  });

  it('labels every container with the runner, its identity and the language', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker, { runnerId: 'unit-id' });
    await pool.start();
    expect([...docker.live.values()][0]?.labels).toEqual({
      [RUNNER_LABEL]: 'unit',
      [RUNNER_ID_LABEL]: 'unit-id',
      [LANGUAGE_LABEL]: 'python',
    });
    await pool.close();
  });

  it('marks a language whose version command fails as unavailable', async () => {
    const docker = new FakeDocker();
    docker.versionOutput = 'command not found\n';
    const pool = fakePool(docker);
    expect(await pool.start()).toEqual([]);
    expect(pool.unavailable.get('python')).toMatch(/no version/);
    await pool.close();
    expect(docker.live.size).toBe(0);
  });

  it('uses each container for one job only; each waiting job gets a creation of its own', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker);
    await pool.start();
    await pool.settled();
    const gate = new Gate();
    docker.gate = gate.wait;
    const results = Array.from({ length: 6 }, () => pool.execute(fakeJob(), () => {}));
    // One job took the warm container; five wait, each for its own creation (as without a pool).
    await expect.poll(() => docker.inFlight).toBe(5);
    gate.open();
    const outputs = (await Promise.all(results)).map((r) => r.stdout);
    expect(new Set(outputs).size).toBe(6);
    await pool.close();
  });

  it('refills in the background at most createConcurrency at a time', async () => {
    const docker = new FakeDocker();
    const probe = new Gate();
    docker.gate = probe.wait;
    const pool = fakePool(docker, { minWarm: 5, maxWarm: 5, createConcurrency: 2 });
    const starting = pool.start();
    await expect.poll(() => docker.inFlight).toBe(1); // the version probe, alone
    const refill = new Gate();
    docker.gate = refill.wait;
    probe.open();
    await starting;
    await expect.poll(() => docker.inFlight).toBe(2);
    refill.open();
    await pool.settled();
    expect(docker.live.size).toBe(5);
    expect(docker.maxInFlight).toBe(2);
    await pool.close();
  });

  it('replaces a warm container that died instead of handing it out', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker);
    await pool.start();
    const [first] = [...docker.live.keys()];
    docker.dead.add(first ?? '');
    docker.onDie(first ?? '');
    await expect.poll(() => docker.removed).toContain(first);
    const result = await pool.execute(fakeJob(), () => {});
    expect(result.stdout).not.toBe(`ran in ${first}\n`);
    await pool.close();
  });

  it('retries in another container when the exec could not start', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker);
    await pool.start();
    const [first] = [...docker.live.keys()];
    docker.dead.add(first ?? ''); // died, but the event has not arrived
    const result = await pool.execute(fakeJob(), () => {});
    expect(result).toMatchObject({ reason: 'exited', exit_code: 0 });
    expect(result.stdout).not.toBe(`ran in ${first}\n`);
    await pool.settled(); // a spent container that runs nothing is removed once the pool is quiet
    expect(docker.removed).toContain(first);
    await pool.close();
  });

  it('fails the job with sandbox_failed when no container can be made', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker);
    await pool.start();
    await pool.execute(fakeJob(), () => {}); // uses the only warm container
    docker.failCreates = 100;
    docker.dead.add('c2'); // in case the refill won the race
    await expect(pool.execute(fakeJob(), () => {})).rejects.toMatchObject({ code: 'sandbox_failed' });
    await pool.close();
  });

  it('updates memory and pids only for a job whose limits differ from the default', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker);
    await pool.start();
    await pool.execute(fakeJob(), () => {});
    expect(docker.updates).toEqual([]);
    await pool.execute(
      fakeJob({ code: 'x', limits: { memory_bytes: 64 * 1024 * 1024, pids: 9_999 } }),
      () => {},
    );
    // pids is clamped to the runner's maximum (MAX_LIMITS.pids = 512).
    expect(docker.updates).toEqual([{ id: expect.any(String), memoryBytes: 64 * 1024 * 1024, pids: 512 }]);
    expect(DEFAULT_LIMITS.pids).not.toBe(512);
    await pool.close();
  });

  it('closes idempotently, waits for creations in flight and removes everything', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker);
    await pool.start();
    let release: () => void = () => {};
    docker.gate = new Promise((resolve) => {
      release = resolve;
    });
    const waiting = pool.execute(fakeJob(), () => {});
    const waitingToo = pool.execute(fakeJob(), () => {});
    await expect.poll(() => docker.inFlight).toBeGreaterThan(0);
    const closed = pool.close();
    expect(pool.close()).toBe(closed);
    release();
    await closed;
    await Promise.allSettled([waiting, waitingToo]);
    await expect(waitingToo).rejects.toMatchObject({ code: 'sandbox_failed' });
    expect(docker.live.size).toBe(0);
    await expect(pool.execute(fakeJob(), () => {})).rejects.toMatchObject({ code: 'sandbox_failed' });
  });

  it('can be closed while it starts', async () => {
    const docker = new FakeDocker();
    let release: () => void = () => {};
    docker.gate = new Promise((resolve) => {
      release = resolve;
    });
    const pool = fakePool(docker);
    const starting = pool.start();
    await expect.poll(() => docker.inFlight).toBe(1);
    const closed = pool.close();
    release();
    expect(await starting).toEqual([]);
    await closed;
    expect(docker.live.size).toBe(0);
  });
});
