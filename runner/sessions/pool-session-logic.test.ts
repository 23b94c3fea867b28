// A session's bookkeeping with a fake driver at the Docker seam: which exec serves which
// execution, its stop agent and the stop exec when the agent is gone, the fallback to killing the
// container when its processes cannot be stopped, a death, and the container's way back to the
// pool's reaper. The real engine: pool-session.docker.test.ts.
import { Writable } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ExecNotStartedError, type ExecRequest } from '../docker/docker-sandbox.js';
import type { SandboxPool } from '../pool/sandbox-pool.js';
import { FakeDocker, fakeJob, fakePool, Gate } from '../pool/sandbox-pool-fake.js';
import { agentArgv, oomCounterArgv, stopArgv } from './session-sandbox.js';

const KEEP_ALIVE = 7;
const same = (a: readonly string[], b: readonly string[]) => JSON.stringify(a) === JSON.stringify(b);

/** FakeDocker that also answers a session's own execs: its stop agent, the stop exec, the OOM counter. */
class SessionDocker extends FakeDocker {
  /** Every stop, by the agent or the stop exec, in order. */
  readonly stops: string[] = [];
  readonly kills: string[] = [];
  /** Agent execs started, and a way to end the live one (a program killed it). */
  agents = 0;
  endAgent: () => void = () => {};
  /** While set, the agent reads requests and never answers them. */
  agentMute = false;
  /** While set, the stop exec cannot start (a fork bomb holds every pid). */
  stopFails = false;
  /** Stop execs that docker runs but whose command cannot start (exit 126), before one that can. */
  stopsNotRun = 0;
  /** Held stage execs end when the sandbox's processes are stopped or the container is killed. */
  stage: Gate | null = null;

  override async runIn(id: string, request: ExecRequest, prepared: boolean): Promise<number | null> {
    if (this.dead.has(id)) return super.runIn(id, request, prepared);
    const say = (text: string) => request.onOutput('stdout', Buffer.from(text));
    if (same(request.argv, agentArgv())) return this.#agent(id, request, say);
    if (same(request.argv, stopArgv(KEEP_ALIVE))) {
      if (this.stopFails) throw new ExecNotStartedError(new Error('fork: Resource temporarily unavailable'));
      if (this.stopsNotRun > 0) {
        this.stopsNotRun--;
        return 126;
      }
      this.stops.push(id);
      this.stage?.open();
      return 0;
    }
    if (same(request.argv, oomCounterArgv())) {
      say('oom_kill 0\n');
      return 1;
    }
    return super.runIn(id, request, prepared);
  }

  /** The agent: the probe, then one answer per request line, until its stdin ends or it is killed. */
  #agent(id: string, request: ExecRequest, say: (text: string) => void): Promise<number | null> {
    this.agents++;
    request.onStarted?.();
    say(`1 (docker-init) S 0 1 1\n${KEEP_ALIVE} (sleep) S 1 7 7\n9 (perl) S 0 9 9\n---\noom_kill 0\n\0`);
    return new Promise((resolve) => {
      this.endAgent = () => resolve(137);
      request.signal?.addEventListener('abort', () => resolve(null));
      const stdin = new Writable({
        write: (chunk: Buffer, _encoding, done) => {
          for (const line of chunk.toString().split('\n').filter(Boolean)) {
            if (this.agentMute) continue;
            if (line === `stop ${KEEP_ALIVE}`) {
              this.stops.push(id);
              this.stage?.open();
              say('stopped\n');
            } else say(line === 'oom' ? 'oom 0\n' : 'unknown\n');
          }
          done();
        },
        final: (done) => {
          resolve(0);
          done();
        },
      });
      request.stream?.attach(stdin);
    });
  }

  /** From now on a stage exec runs until the sandbox is stopped or killed. */
  holdStages(): void {
    this.stage = new Gate();
    this.jobGate = this.stage.wait;
  }

  override async kill(id?: string): Promise<void> {
    this.kills.push(id ?? '');
    this.stage?.open();
    this.endAgent();
  }
}

async function startPool(docker: SessionDocker): Promise<SandboxPool> {
  // Helper execs (the agent's answer) time out in 200 ms, not 5 s: the fallback tests wait them out.
  const pool = fakePool(docker, { sessionHelperMs: 200 });
  onTestFinished(() => pool.close());
  await pool.start();
  await pool.settled();
  return pool;
}

describe('PoolSession (fake driver)', () => {
  it('leases the warm container, leaves its prepared exec to the first execution, fresh execs after', async () => {
    const docker = new SessionDocker();
    const pool = await startPool(docker);
    const [warm] = [...docker.live.keys()];
    const session = await pool.openSession('py', { memory_bytes: 64 * 1024 * 1024 });
    expect(session.containerId).toBe(warm);
    expect(session.language).toBe('python');
    expect(docker.updates).toEqual([{ id: warm, memoryBytes: 64 * 1024 * 1024, pids: 128 }]);
    await session.execute(fakeJob(), () => {});
    await session.execute(fakeJob({ limits: { memory_bytes: 512 * 1024 * 1024 } }), () => {});
    expect(docker.ran).toEqual([
      { id: warm, prepared: true },
      { id: warm, prepared: false },
    ]);
    // Each execution's leftovers were stopped after it; the session's limits were never changed.
    await expect.poll(() => docker.stops).toEqual([warm, warm]);
    expect(docker.updates).toHaveLength(1);
    // The pool keeps a warm container beside the session's.
    await pool.settled();
    expect(docker.live.size).toBe(2);
    await session.close();
    await expect.poll(() => docker.removed).toContain(warm);
  });

  it('stops the processes through its agent, even when no exec could start, and stays open', async () => {
    const docker = new SessionDocker();
    const pool = await startPool(docker);
    const session = await pool.openSession('python', null);
    docker.holdStages();
    docker.stopFails = true;
    const result = await session.execute(fakeJob({ limits: { wall_time_ms: 50 } }), () => {});
    expect(result.reason).toBe('wall_time');
    expect(docker.stops).toEqual([session.containerId]);
    expect(docker.kills).toEqual([]);
    expect(docker.agents).toBe(1);
    expect(session.state).toBe('open');
    await session.close();
  });

  it('stops with an exec when the agent does not answer, then starts a new agent', async () => {
    const docker = new SessionDocker();
    const pool = await startPool(docker);
    const session = await pool.openSession('python', null);
    docker.holdStages();
    docker.agentMute = true;
    const result = await session.execute(fakeJob({ limits: { wall_time_ms: 50 } }), () => {});
    expect(result.reason).toBe('wall_time');
    expect(docker.stops).toEqual([session.containerId]);
    expect(docker.agents).toBe(2);
    docker.agentMute = false;
    docker.jobGate = null;
    await session.execute(fakeJob(), () => {});
    // The tidy-up after it went through the new agent.
    await expect.poll(() => docker.stops).toHaveLength(2);
    expect(docker.agents).toBe(2);
    expect(docker.kills).toEqual([]);
    await session.close();
  });

  it('kills the container and loses the session when the agent is gone and no stop exec can start', async () => {
    const docker = new SessionDocker();
    const pool = await startPool(docker);
    const session = await pool.openSession('python', null);
    docker.holdStages();
    docker.endAgent(); // a program of the session killed it
    docker.stopFails = true;
    const result = await session.execute(fakeJob({ limits: { wall_time_ms: 50 } }), () => {});
    expect(result.reason).toBe('wall_time');
    expect(docker.kills).toEqual([session.containerId]);
    const lost = await session.lost;
    expect(lost).toMatchObject({
      code: 'sandbox_failed',
      message: expect.stringMatching(/could not be stopped/),
    });
    await expect.poll(() => session.state).toBe('ended');
    await expect.poll(() => docker.removed).toContain(session.containerId);
    await expect(session.execute(fakeJob(), () => {})).rejects.toMatchObject({ code: 'sandbox_failed' });
  });

  it('stops only the processes when it can, and stays open', async () => {
    const docker = new SessionDocker();
    const pool = await startPool(docker);
    const session = await pool.openSession('python', null);
    docker.holdStages();
    const result = await session.execute(fakeJob({ limits: { wall_time_ms: 50 } }), () => {});
    expect(result.reason).toBe('wall_time');
    expect(docker.stops).toEqual([session.containerId]);
    expect(docker.kills).toEqual([]);
    expect(session.state).toBe('open');
    await session.close();
  });

  it('gives a stop that could not start (exit 126) more pids and tries again; the next execution restores them', async () => {
    const docker = new SessionDocker();
    const pool = await startPool(docker);
    const session = await pool.openSession('python', { pids: 32 });
    docker.holdStages();
    docker.endAgent();
    docker.stopsNotRun = 2;
    const result = await session.execute(fakeJob({ limits: { wall_time_ms: 50 } }), () => {});
    expect(result.reason).toBe('wall_time');
    expect(docker.stops).toEqual([session.containerId]);
    expect(docker.kills).toEqual([]);
    expect(docker.updates.map((u) => u.pids).slice(-2)).toEqual([32 + 64, 32 + 128]);
    expect(docker.agents).toBe(2);
    docker.stage = null;
    docker.jobGate = null;
    await session.execute(fakeJob(), () => {});
    expect(docker.updates.at(-1)?.pids).toBe(32);
    expect(session.state).toBe('open');
    await session.close();
  });

  it('is lost when its container dies, once its running execution has ended', async () => {
    const docker = new SessionDocker();
    const pool = await startPool(docker);
    const session = await pool.openSession('python', null);
    const stage = new Gate();
    docker.jobGate = stage.wait;
    const running = session.execute(fakeJob(), () => {});
    await expect.poll(() => docker.ran.length).toBe(1);
    docker.onDie(session.containerId);
    expect(await session.lost).toMatchObject({
      code: 'sandbox_failed',
      message: expect.stringMatching(/died/),
    });
    expect(session.state).toBe('ending');
    stage.open();
    await running;
    await expect.poll(() => session.state).toBe('ended');
    await expect.poll(() => docker.removed).toContain(session.containerId);
  });

  it('gives the container back when the probe fails, and rejects with sandbox_failed', async () => {
    const docker = new SessionDocker();
    const pool = await startPool(docker);
    const [warm] = [...docker.live.keys()];
    docker.dead.add(warm ?? '');
    await expect(pool.openSession('python', null)).rejects.toMatchObject({
      code: 'sandbox_failed',
      message: expect.stringMatching(/Could not open a session sandbox/),
    });
    await expect.poll(() => docker.removed).toContain(warm);
  });

  it('stops waiting for a container when the open is aborted', async () => {
    const docker = new SessionDocker();
    const pool = await startPool(docker);
    const creations = new Gate();
    docker.gate = creations.wait; // no creation ends until the test is over
    try {
      await pool.openSession('python', null); // takes the warm one
      const abort = new AbortController();
      const opening = pool.openSession('python', null, abort.signal);
      await expect.poll(() => docker.inFlight).toBeGreaterThan(0);
      abort.abort();
      await expect(opening).rejects.toMatchObject({
        code: 'sandbox_failed',
        message: expect.stringMatching(/cancelled/),
      });
    } finally {
      creations.open();
    }
  });
});
