// The runner library without Docker: a FakeDocker at the engine seam and a real `ws` server on
// port 0 as the gateway. Pause, finish-then-pause, resume and caps as the gateway sees them (hello,
// capacity, offers rejected or accepted), typed events, an engine that is not there yet, and
// languages added once their images are built.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createLogger, silentLogger } from '../shared/log.js';
import { createRunner, type RunnerOptions } from './create-runner.js';
import { FakeDocker, Gate } from './pool/sandbox-pool-fake.js';
import type { Runner } from './runner.js';
import type { RunnerEvents } from './runner-events.js';
import { FakeGateway, frameOf } from './runner-fake-gateway.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'codeexec-runner-test-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function gateway(): Promise<FakeGateway> {
  const started = await FakeGateway.start();
  onTestFinished(() => started.close());
  return started;
}

/** An engine with the python image, whose jobs print `ran in <container>`. */
function engine(): FakeDocker {
  const docker = new FakeDocker();
  docker.images.add('codeexec/python:latest');
  return docker;
}

async function runner(gw: FakeGateway, options: Partial<RunnerOptions> = {}): Promise<Runner> {
  const created = await createRunner({
    gatewayUrl: gw.url,
    token: 'test-token',
    dataDir: await tempDir(),
    driver: engine(),
    languages: ['python'],
    log: silentLogger,
    minBackoffMs: 10,
    maxBackoffMs: 50,
    ...options,
  });
  onTestFinished(() => created.close());
  return created;
}

/** Every payload of `event` the runner emits from now on. */
function record<K extends keyof RunnerEvents & string>(target: Runner, event: K): RunnerEvents[K][] {
  const seen: RunnerEvents[K][] = [];
  target.on(event, (payload) => seen.push(payload));
  return seen;
}

describe('Runner hello and identity', () => {
  it('says hello with its languages, slots, and neither paused nor draining', async () => {
    const gw = await gateway();
    const r = await runner(gw, { slots: 3, labels: ['gpu-less'] });
    await r.start();
    await r.connected();
    const hello = await gw.hello(1);
    expect(hello).toMatchObject({
      name: r.name,
      slots: 3,
      labels: ['gpu-less'],
      languages: [{ name: 'python', version: '3.11.2' }],
      building: [],
      paused: false,
      draining: false,
    });
    // The default name is the host's and the start of the identity: two runners on a host differ.
    expect(r.name).toMatch(new RegExp(`-${r.id.slice(0, 8)}$`));
  });
});

describe('Runner pause, finish-then-pause, resume', () => {
  it('pauses: tells the gateway, rejects offers, keeps its state across a reconnect, then resumes', async () => {
    const gw = await gateway();
    const r = await runner(gw);
    const states = record(r, 'state');
    await r.start();
    await r.connected();
    expect(r.pause('the owner is gaming')).toBe(true);
    expect(r.state).toBe('paused');
    expect(states.at(-1)).toEqual({ state: 'paused', reason: 'the owner is gaming' });
    expect(await gw.frame(frameOf('capacity'))).toEqual({ type: 'capacity', slots: 2, paused: true });
    gw.offer('j1');
    expect(await gw.frame(frameOf('reject', 'job_id', 'j1'))).toMatchObject({ reason: 'paused' });
    // A reconnect keeps the pause: the new hello says so.
    gw.drop();
    expect(await gw.hello(2)).toMatchObject({ paused: true });
    expect(r.resume()).toBe(true);
    expect(r.state).toBe('running');
    await gw.frame((frame) => frame.type === 'capacity' && !frame.paused);
    gw.offer('j2');
    await gw.frame(frameOf('done', 'job_id', 'j2'));
  });

  it('finishThenPause resolves once the jobs it held have ended, taking none meanwhile', async () => {
    const gw = await gateway();
    const docker = engine();
    const r = await runner(gw, { driver: docker });
    await r.start();
    await r.connected();
    const gate = new Gate();
    docker.jobGate = gate.wait;
    gw.offer('held');
    await gw.frame(frameOf('accept', 'job_id', 'held'));
    let finished = false;
    const paused = r.finishThenPause().then(() => {
      finished = true;
    });
    expect(r.state).toBe('paused');
    gw.offer('late');
    expect(await gw.frame(frameOf('reject', 'job_id', 'late'))).toMatchObject({ reason: 'paused' });
    expect(finished).toBe(false);
    gate.open();
    await paused;
    expect(await gw.frame(frameOf('done', 'job_id', 'held'))).toMatchObject({ result: { reason: 'exited' } });
    expect(r.state).toBe('paused');
  });

  it('suspend hands running jobs back at once (release, no result) and takes nothing new', async () => {
    const gw = await gateway();
    const docker = engine();
    const r = await runner(gw, { driver: docker });
    await r.start();
    await r.connected();
    const finished = record(r, 'job.finished');
    const gate = new Gate();
    docker.jobGate = gate.wait;
    gw.offer('held');
    await gw.frame(frameOf('accept', 'job_id', 'held'));
    // The job never gets to finish: suspend kills it and gives it back.
    await r.suspend('the owner is back');
    expect(await gw.frame(frameOf('release', 'job_id', 'held'))).toMatchObject({
      reason: 'the owner is back',
    });
    expect(r.state).toBe('paused');
    expect(finished).toMatchObject([{ id: 'held', error: 'handed_back', reason: null }]);
    gw.offer('late');
    expect(await gw.frame(frameOf('reject', 'job_id', 'late'))).toMatchObject({ reason: 'paused' });
    gate.open();
    expect(gw.framesOf('held').map((f) => f.type)).not.toContain('done');
  });

  it('starts paused when asked before it started, and a drain from paused stops it', async () => {
    const gw = await gateway();
    const r = await runner(gw);
    r.pause('on batteries');
    await r.start();
    expect(r.state).toBe('paused');
    expect(await gw.hello(1)).toMatchObject({ paused: true });
    await r.drain();
    expect(r.state).toBe('stopped');
  });
});

describe('Runner caps', () => {
  it('sends capacity for new slots and rejects offers past them', async () => {
    const gw = await gateway();
    const docker = engine();
    const r = await runner(gw, { driver: docker, slots: 2 });
    await r.start();
    await r.connected();
    r.setCaps({ slots: 1 });
    expect(await gw.frame(frameOf('capacity'))).toEqual({ type: 'capacity', slots: 1, paused: false });
    const gate = new Gate();
    docker.jobGate = gate.wait;
    gw.offer('first');
    await gw.frame(frameOf('accept', 'job_id', 'first'));
    gw.offer('second');
    expect(await gw.frame(frameOf('reject', 'job_id', 'second'))).toMatchObject({ reason: 'no free slot' });
    gate.open();
    await gw.frame(frameOf('done', 'job_id', 'first'));
    gw.drop();
    expect(await gw.hello(2)).toMatchObject({ slots: 1 });
  });

  it('gives sandboxes made from now on the new CPU quota, and jobs the memory cap', async () => {
    const gw = await gateway();
    const docker = engine();
    const r = await runner(gw, { driver: docker, minWarm: 1, maxWarm: 1 });
    await r.start();
    await r.connected();
    r.setCaps({ cpus: 0.5, memory: 64 * 1024 * 1024 });
    expect(r.caps).toEqual({ slots: 2, cpus: 0.5, memory: 64 * 1024 * 1024 });
    gw.offer('capped', { limits: { memory_bytes: 512 * 1024 * 1024 } });
    await gw.frame(frameOf('done', 'job_id', 'capped'));
    expect(docker.updates.at(-1)).toMatchObject({ memoryBytes: 64 * 1024 * 1024, cpus: 0.5 });
    await r.settled();
    expect([...docker.live.values()].every((spec) => spec.cpus === 0.5)).toBe(true);
  });

  it('refuses caps no sandbox could have, changing nothing', async () => {
    const gw = await gateway();
    const r = await runner(gw);
    expect(() => r.setCaps({ slots: 0 })).toThrow(RangeError);
    expect(() => r.setCaps({ slots: 4, memory: 1 })).toThrow(RangeError);
    expect(() => r.setCaps({ cpus: -1 })).toThrow(RangeError);
    expect(r.caps).toEqual({ slots: 2, cpus: 1, memory: null });
  });
});

describe('Runner events', () => {
  it('reports jobs started and finished, and the connection coming and going', async () => {
    const gw = await gateway();
    const r = await runner(gw);
    const started = record(r, 'job.started');
    const finished = record(r, 'job.finished');
    const connection = record(r, 'connection');
    await r.start();
    await r.connected();
    gw.offer('evented');
    await gw.frame(frameOf('done', 'job_id', 'evented'));
    expect(started).toEqual([{ id: 'evented', lang: 'python' }]);
    expect(finished).toEqual([
      {
        id: 'evented',
        lang: 'python',
        reason: 'exited',
        exit_code: 0,
        error: null,
        wall_ms: expect.any(Number),
        cpu_ms: null,
        reported: true,
      },
    ]);
    gw.drop();
    await gw.hello(2);
    await r.connected();
    expect(connection.map((event) => event.state)).toEqual([
      'connected',
      'disconnected',
      'retrying',
      'connected',
    ]);
  });

  it('waits for an engine that is not there, says how to fix it, and starts once it answers', async () => {
    const gw = await gateway();
    const docker = engine();
    docker.down = true;
    const r = await runner(gw, { driver: docker, engineRetryMinMs: 10, engineRetryMaxMs: 20 });
    const missing = r.next('engine.missing');
    const ready = r.next('engine.ready');
    const starting = r.start();
    expect((await missing).message).toMatch(/not running at unix:\/\/\/fake\/docker\.sock.*start Docker/);
    expect(r.state).toBe('starting');
    expect(r.reason).toBe('waiting for the Docker engine');
    docker.down = false;
    await ready;
    await starting;
    expect(r.state).toBe('running');
  });

  it('can be closed while it waits for the engine', async () => {
    const gw = await gateway();
    const docker = engine();
    docker.down = true;
    const r = await runner(gw, { driver: docker, engineRetryMinMs: 10, engineRetryMaxMs: 20 });
    const starting = r.start();
    await r.next('engine.missing');
    await r.close();
    await expect(starting).resolves.toBe(r);
    expect(r.state).toBe('stopped');
    expect(gw.hellos).toEqual([]);
  });
});

describe('Runner languages being built', () => {
  it('says which are building, then offers each once its image exists', async () => {
    const gw = await gateway();
    const docker = engine();
    const r = await runner(gw, { driver: docker, languages: ['python', 'ruby', 'go'] });
    await r.start();
    expect(r.missingImages).toEqual(['go', 'ruby']);
    r.markBuilding(r.missingImages);
    expect(await gw.hello(1)).toMatchObject({ languages: [{ name: 'python' }], building: ['go', 'ruby'] });
    gw.offer('too-soon', { lang: 'ruby' });
    expect(await gw.frame(frameOf('reject', 'job_id', 'too-soon'))).toMatchObject({
      reason: 'language ruby not offered',
    });
    docker.images.add('codeexec/ruby:latest');
    expect(await r.addLanguage('ruby')).toMatchObject({ name: 'ruby', version: '3.11.2' });
    expect(await gw.frame(frameOf('languages'))).toMatchObject({
      languages: [{ name: 'python' }, { name: 'ruby' }],
      building: ['go'],
    });
    gw.offer('ruby-job', { lang: 'ruby' });
    await gw.frame(frameOf('done', 'job_id', 'ruby-job'));
    r.languageFailed('go', 'the build failed');
    await gw.frame((frame) => frame.type === 'languages' && frame.building.length === 0);
    expect(r.building).toEqual([]);
  });

  it('stops saying a language is building when its image turns out missing', async () => {
    const gw = await gateway();
    const r = await runner(gw, { languages: ['python', 'ruby'], building: ['ruby'] });
    await r.start();
    expect(await gw.hello(1)).toMatchObject({ building: ['ruby'] });
    await expect(r.addLanguage('ruby')).rejects.toThrow(/codeexec\/ruby:latest not found/);
    expect(r.building).toEqual([]);
  });
});

describe('Runner logs', () => {
  it("puts its name on every line, and the job's id on each line about a job", async () => {
    const gw = await gateway();
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({
      level: 'debug',
      destination: { write: (line) => void lines.push(JSON.parse(line)) },
    });
    const r = await runner(gw, { log });
    await r.start();
    await r.connected();
    gw.offer('logged');
    await gw.frame(frameOf('done', 'job_id', 'logged'));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line.runner_id).toBe(r.name);
    expect(lines.map((line) => line.msg)).toContain('connected to the gateway');
    const about = lines.filter((line) => line.job_id === 'logged');
    expect(about).toEqual([
      expect.objectContaining({ level: 'info', msg: 'job accepted', lang: 'python' }),
      expect.objectContaining({
        level: 'info',
        msg: 'job finished',
        reason: 'exited',
        exit_code: 0,
        reported: true,
      }),
    ]);
  });
});
