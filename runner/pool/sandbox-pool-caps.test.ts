// The pool's run-time changes with a fake driver at the Docker seam: the owner's caps (CPUs per
// container, a memory ceiling) for the next job, and a language added once its image exists.
import { describe, expect, it } from 'vitest';
import type { LanguageSpec } from '../../shared/languages.js';
import { MAX_LIMITS } from '../../shared/limits.js';
import { FAKE_PYTHON, FakeDocker, fakeJob, fakePool } from './sandbox-pool-fake.js';

const MiB = 1024 * 1024;
const RUBY: LanguageSpec = { ...FAKE_PYTHON, name: 'ruby', aliases: ['rb'], image: 'img/ruby' };

describe('SandboxPool caps', () => {
  it('clamps every job to a lowered memory cap, and lifts it again', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker);
    await pool.start();
    pool.setCaps({ memoryBytes: 128 * MiB });
    // The warm container (made at the default job's 256 MiB) is lowered for the next job.
    await pool.execute(fakeJob(), () => {});
    expect(docker.updates.map((u) => u.memoryBytes)).toEqual([128 * MiB]);
    // A job asking for more gets the cap too (its container needs no update: made at the cap).
    await pool.execute(fakeJob({ limits: { memory_bytes: 512 * MiB } }), () => {});
    expect(docker.updates.every((u) => u.memoryBytes === 128 * MiB)).toBe(true);
    await pool.settled();
    // Containers made from now on start at the cap: the next job needs no update.
    const created = [...docker.live.values()].at(-1);
    expect(created?.memoryBytes).toBe(128 * MiB);
    pool.setCaps({ memoryBytes: null });
    await pool.execute(fakeJob({ limits: { memory_bytes: 512 * MiB } }), () => {});
    expect(docker.updates.at(-1)?.memoryBytes).toBe(512 * MiB);
    await pool.close();
  });

  it('never raises the cap above the runner maximum', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker);
    await pool.start();
    pool.setCaps({ memoryBytes: 64 * 1024 * MiB });
    await pool.execute(fakeJob({ limits: { memory_bytes: 64 * 1024 * MiB } }), () => {});
    expect(docker.updates.at(-1)?.memoryBytes).toBe(MAX_LIMITS.memory_bytes);
    await pool.close();
  });

  it('gives new containers the new CPU quota and updates a warm one at its next job', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker, { minWarm: 1, maxWarm: 1 });
    await pool.start();
    await pool.settled();
    expect([...docker.live.values()].map((spec) => spec.cpus)).toEqual([1]);
    pool.setCaps({ cpus: 0.5 });
    await pool.execute(fakeJob(), () => {});
    expect(docker.updates).toEqual([
      { id: expect.any(String), memoryBytes: 256 * MiB, pids: 128, cpus: 0.5 },
    ]);
    await pool.settled();
    expect([...docker.live.values()].map((spec) => spec.cpus)).toEqual([0.5]);
    await pool.close();
  });

  it('refuses caps no sandbox could have', async () => {
    const pool = fakePool(new FakeDocker());
    expect(() => pool.setCaps({ cpus: 0 })).toThrow(RangeError);
    expect(() => pool.setCaps({ cpus: Number.NaN })).toThrow(RangeError);
    expect(() => pool.setCaps({ memoryBytes: 1024 })).toThrow(RangeError);
  });
});

describe('SandboxPool.addLanguage', () => {
  it('starts a lane for an image built after the pool started', async () => {
    const docker = new FakeDocker();
    const pool = fakePool(docker, { languages: [FAKE_PYTHON, RUBY] });
    expect((await pool.start()).map((lang) => lang.name)).toEqual(['python']);
    expect(pool.missingImages).toEqual(['ruby']);
    await expect(pool.addLanguage(RUBY)).rejects.toThrow(/img\/ruby not found/);
    docker.images.add('img/ruby');
    expect(await pool.addLanguage(RUBY)).toEqual({ name: 'ruby', version: '3.11.2', aliases: ['rb'] });
    expect(pool.missingImages).toEqual([]);
    expect(pool.unavailable.size).toBe(0);
    const result = await pool.execute(fakeJob({ lang: 'rb' }), () => {});
    expect(result.stdout).toMatch(/^ran in c/);
    // Added twice: the lane that runs is kept.
    expect((await pool.addLanguage(RUBY)).name).toBe('ruby');
    await pool.close();
  });

  it('rejects a language whose image does not run', async () => {
    const docker = new FakeDocker();
    docker.images.add('img/ruby');
    const pool = fakePool(docker, { languages: [FAKE_PYTHON] });
    await pool.start();
    docker.versionOutput = 'bash: ruby: command not found\n';
    await expect(pool.addLanguage(RUBY)).rejects.toThrow(/no version/);
    expect(pool.unavailable.get('ruby')).toMatch(/no version/);
    await pool.close();
  });
});
