// The pool's bookkeeping with a fake driver at the Docker seam: concurrency of creations,
// replacement of dead containers, retries, unavailable languages, close. The real engine is
// exercised in sandbox-pool.test.ts.
import { describe, expect, it } from 'vitest';
import type { LanguageSpec } from '../shared/languages.js';
import { DEFAULT_LIMITS } from '../shared/limits.js';
import {
  type ContainerState,
  ExecNotStartedError,
  type ExecRequest,
  type SandboxContainerSpec,
  type SandboxDriver,
} from './docker-sandbox.js';
import type { JobSpec } from './execute-job.js';
import { SandboxPool } from './sandbox-pool.js';

const PY: LanguageSpec = {
  name: 'python',
  aliases: ['py'],
  image: 'img/python',
  file: 'main.py',
  run: ['python3', '{main}'],
  version: ['python3', '--version'],
};
const GONE: LanguageSpec = { ...PY, name: 'gone', aliases: [], image: 'img/missing' };

class FakeDocker implements SandboxDriver {
  readonly images = new Set(['img/python']);
  readonly live = new Map<string, SandboxContainerSpec>();
  readonly removed: string[] = [];
  readonly updates: { id: string; memoryBytes: number; pids: number }[] = [];
  /** Containers on which exec fails as if the container had stopped. */
  readonly dead = new Set<string>();
  inFlight = 0;
  maxInFlight = 0;
  failCreates = 0;
  versionOutput = 'Python 3.11.2\n';
  /** While set, creations wait for it. */
  gate: Promise<void> | null = null;
  onDie: (id: string) => void = () => {};
  private next = 0;

  async imageExists(image: string): Promise<boolean> {
    return this.images.has(image);
  }

  async createAndStart(spec: SandboxContainerSpec): Promise<string> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.gate;
      if (this.failCreates > 0) {
        this.failCreates--;
        throw new Error('no space left on device');
      }
      const id = `c${++this.next}`;
      this.live.set(id, spec);
      return id;
    } finally {
      this.inFlight--;
    }
  }

  async exec(id: string, request: ExecRequest): Promise<number | null> {
    if (this.dead.has(id) || !this.live.has(id)) throw new ExecNotStartedError(new Error('is not running'));
    request.onStarted?.();
    const text = request.argv[0] === 'sh' ? `ran in ${id}\n` : this.versionOutput;
    request.onOutput('stdout', Buffer.from(text));
    return 0;
  }

  async inspect(): Promise<ContainerState> {
    return { running: false, oomKilled: false };
  }

  async kill(): Promise<void> {}
  async waitStopped(): Promise<void> {}

  async remove(id: string): Promise<void> {
    this.live.delete(id);
    this.removed.push(id);
  }

  async listByLabel(_key: string, value: string): Promise<string[]> {
    return [...this.live].filter(([, spec]) => Object.values(spec.labels).includes(value)).map(([id]) => id);
  }

  async update(id: string, limits: { memoryBytes: number; pids: number }): Promise<void> {
    this.updates.push({ id, ...limits });
  }

  async watchDeaths(_key: string, _value: string, onDie: (id: string) => void): Promise<() => void> {
    this.onDie = onDie;
    return () => {};
  }
}

function job(code = 'print(1)', extra: Partial<JobSpec> = {}): JobSpec {
  return { id: 'j', lang: 'python', code, stdin: null, args: [], limits: null, ...extra };
}

function makePool(docker: FakeDocker, languages: LanguageSpec[] = [PY]) {
  return new SandboxPool({ runnerName: 'unit', languages, docker, minWarm: 1, maxWarm: 2 });
}

describe('SandboxPool (fake driver)', () => {
  it('removes orphans first and reports only languages whose image exists', async () => {
    const docker = new FakeDocker();
    docker.live.set('orphan', {
      labels: { 'org.codeexec.runner': 'unit' },
    } as unknown as SandboxContainerSpec);
    const pool = makePool(docker, [PY, GONE]);
    expect(await pool.start()).toEqual([{ name: 'python', version: '3.11.2', aliases: ['py'] }]);
    expect(docker.removed).toContain('orphan');
    expect(pool.unavailable.get('gone')).toMatch(/img\/missing not found/);
    await expect(pool.execute(job('x', { lang: 'gone' }), () => {})).rejects.toMatchObject({
      code: 'unknown_language',
    });
    await pool.close();
  });

  it('labels every container with the runner and the language', async () => {
    const docker = new FakeDocker();
    const pool = makePool(docker);
    await pool.start();
    expect([...docker.live.values()][0]?.labels).toEqual({
      'org.codeexec.runner': 'unit',
      'org.codeexec.language': 'python',
    });
    await pool.close();
  });

  it('marks a language whose version command fails as unavailable', async () => {
    const docker = new FakeDocker();
    docker.versionOutput = 'command not found\n';
    const pool = makePool(docker);
    expect(await pool.start()).toEqual([]);
    expect(pool.unavailable.get('python')).toMatch(/no version/);
    await pool.close();
    expect(docker.live.size).toBe(0);
  });

  it('uses each container for one job only, and never creates more than two at a time', async () => {
    const docker = new FakeDocker();
    const pool = makePool(docker);
    await pool.start();
    let release: () => void = () => {};
    docker.gate = new Promise((resolve) => {
      release = resolve;
    });
    const results = Array.from({ length: 6 }, () => pool.execute(job(), () => {}));
    await expect.poll(() => docker.inFlight).toBe(2);
    release();
    const outputs = (await Promise.all(results)).map((r) => r.stdout);
    expect(new Set(outputs).size).toBe(6);
    expect(docker.maxInFlight).toBe(2);
    await pool.close();
  });

  it('replaces a warm container that died instead of handing it out', async () => {
    const docker = new FakeDocker();
    const pool = makePool(docker);
    await pool.start();
    const [first] = [...docker.live.keys()];
    docker.dead.add(first ?? '');
    docker.onDie(first ?? '');
    await expect.poll(() => docker.removed).toContain(first);
    const result = await pool.execute(job(), () => {});
    expect(result.stdout).not.toBe(`ran in ${first}\n`);
    await pool.close();
  });

  it('retries once in another container when the exec could not start', async () => {
    const docker = new FakeDocker();
    const pool = makePool(docker);
    await pool.start();
    const [first] = [...docker.live.keys()];
    docker.dead.add(first ?? ''); // died, but the event has not arrived
    const result = await pool.execute(job(), () => {});
    expect(result).toMatchObject({ reason: 'exited', exit_code: 0 });
    expect(result.stdout).not.toBe(`ran in ${first}\n`);
    expect(docker.removed).toContain(first);
    await pool.close();
  });

  it('fails the job with sandbox_failed when no container can be made', async () => {
    const docker = new FakeDocker();
    const pool = makePool(docker);
    await pool.start();
    await pool.execute(job(), () => {}); // uses the only warm container
    docker.failCreates = 100;
    docker.dead.add('c2'); // in case the refill won the race
    await expect(pool.execute(job(), () => {})).rejects.toMatchObject({ code: 'sandbox_failed' });
    await pool.close();
  });

  it('updates memory and pids only for a job whose limits differ from the default', async () => {
    const docker = new FakeDocker();
    const pool = makePool(docker);
    await pool.start();
    await pool.execute(job(), () => {});
    expect(docker.updates).toEqual([]);
    await pool.execute(job('x', { limits: { memory_bytes: 64 * 1024 * 1024, pids: 9_999 } }), () => {});
    // pids is clamped to the runner's maximum (MAX_LIMITS.pids = 512).
    expect(docker.updates).toEqual([{ id: expect.any(String), memoryBytes: 64 * 1024 * 1024, pids: 512 }]);
    expect(DEFAULT_LIMITS.pids).not.toBe(512);
    await pool.close();
  });

  it('closes idempotently, waits for creations in flight and removes everything', async () => {
    const docker = new FakeDocker();
    const pool = makePool(docker);
    await pool.start();
    let release: () => void = () => {};
    docker.gate = new Promise((resolve) => {
      release = resolve;
    });
    const waiting = pool.execute(job(), () => {});
    const waitingToo = pool.execute(job(), () => {});
    await expect.poll(() => docker.inFlight).toBeGreaterThan(0);
    const closed = pool.close();
    expect(pool.close()).toBe(closed);
    release();
    await closed;
    await Promise.allSettled([waiting, waitingToo]);
    await expect(waitingToo).rejects.toMatchObject({ code: 'sandbox_failed' });
    expect(docker.live.size).toBe(0);
    await expect(pool.execute(job(), () => {})).rejects.toMatchObject({ code: 'sandbox_failed' });
  });

  it('can be closed while it starts', async () => {
    const docker = new FakeDocker();
    let release: () => void = () => {};
    docker.gate = new Promise((resolve) => {
      release = resolve;
    });
    const pool = makePool(docker);
    const starting = pool.start();
    await expect.poll(() => docker.inFlight).toBe(1);
    const closed = pool.close();
    release();
    expect(await starting).toEqual([]);
    await closed;
    expect(docker.live.size).toBe(0);
  });
});
