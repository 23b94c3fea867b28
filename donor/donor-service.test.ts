// The donor service without Docker: a real runner on the fake engine (runner/pool/
// sandbox-pool-fake.ts), a fake gateway on loopback, fake probes and a FakeClock. The policy's
// decisions reach the runner (paused, resumed, caps, languages), transitions are journalled, jobs
// count in the ledger, and the owner's last word outlives a restart.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { WebSocketServer } from 'ws';
import { FakeClock } from '../gateway/scheduling/clock.js';
import { DataDirLockedError } from '../runner/identity/data-dir-lock.js';
import { FakeDocker, Gate } from '../runner/pool/sandbox-pool-fake.js';
import { FakeGateway, frameOf } from '../runner/runner-fake-gateway.js';
import { type DonorSettings, type DonorStatus, HEADLESS_DEFAULT_SETTINGS } from '../shared/donor.js';
import { silentLogger } from '../shared/log.js';
import { localDayKey } from './donor-ledger.js';
import {
  DonorService,
  type DonorServiceOptions,
  type DonorTransition,
  LEDGER_FILE,
  LEDGER_SAVE_MS,
  type SystemProbes,
  TICK_MS,
} from './donor-service.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'codeexec-donor-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function gateway(): Promise<FakeGateway> {
  const started = await FakeGateway.start();
  onTestFinished(() => started.close());
  return started;
}

function engine(): FakeDocker {
  const docker = new FakeDocker();
  docker.images.add('codeexec/python:latest');
  return docker;
}

/** Probes whose readings a test sets. */
class FakeProbes implements SystemProbes {
  idle: number | null = null;
  battery = { onBattery: false, percent: null as number | null };
  otherCpu = 0;
  memory = 10;
  idleSeconds = () => this.idle;
  power = () => ({ ...this.battery });
  otherCpuPercent = () => this.otherCpu;
  memoryUsedPercent = () => this.memory;
}

function settingsWith(limits: Partial<DonorSettings['limits']> = {}, more: Partial<DonorSettings> = {}) {
  return {
    ...HEADLESS_DEFAULT_SETTINGS,
    ...more,
    limits: { ...HEADLESS_DEFAULT_SETTINGS.limits, languages: ['python'], ...limits },
  } satisfies DonorSettings;
}

interface Setup {
  gw: FakeGateway;
  dir: string;
  docker: FakeDocker;
  clock: FakeClock;
  probes: FakeProbes;
}

async function setup(): Promise<Setup> {
  return {
    gw: await gateway(),
    dir: await tempDir(),
    docker: engine(),
    clock: new FakeClock(Date.parse('2026-03-04T10:00:00Z')),
    probes: new FakeProbes(),
  };
}

async function open(s: Setup, options: Partial<DonorServiceOptions> = {}): Promise<DonorService> {
  const donor = await DonorService.open({
    gatewayUrl: s.gw.url,
    token: 'donor-token',
    dataDir: s.dir,
    settings: settingsWith(),
    probes: s.probes,
    clock: s.clock,
    log: silentLogger,
    runner: { driver: s.docker, minBackoffMs: 10, maxBackoffMs: 50 },
    ...options,
  });
  onTestFinished(() => donor.close({ now: true }));
  return donor;
}

/** The status once `match` holds (now or on a later `status` event). */
function until(donor: DonorService, match: (status: DonorStatus) => boolean): Promise<DonorStatus> {
  if (match(donor.status())) return Promise.resolve(donor.status());
  return new Promise((resolve) => {
    const stop = donor.on('status', (status) => {
      if (!match(status)) return;
      stop();
      resolve(status);
    });
  });
}

/** What owner.json holds now (null: no file yet). */
function ownerFile(dir: string): Promise<unknown> {
  return readFile(join(dir, 'owner.json'), 'utf8').then(JSON.parse, () => null);
}

function record(donor: DonorService): DonorTransition[] {
  const seen: DonorTransition[] = [];
  donor.on('transition', (t) => seen.push(t));
  return seen;
}

describe('DonorService: the policy drives the runner', () => {
  it('donates at once with the headless defaults, connected, and says so', async () => {
    const s = await setup();
    const donor = await open(s);
    const transitions = record(donor);
    expect(donor.status()).toMatchObject({ state: 'starting', reason: 'starting' });
    await donor.start();
    expect(await s.gw.hello(1)).toMatchObject({ paused: false, slots: 2 });
    const status = await until(donor, (st) => st.connection.state === 'connected');
    expect(status).toMatchObject({
      state: 'donating',
      reason: 'donating',
      running: 0,
      jobs_done: 0,
      engine_problem: null,
      connection: { state: 'connected', gateway: s.gw.url },
      caps: { slots: 2, cpus: 0.5, memory_mb: 512, languages: ['python'] },
    });
    expect(transitions).toEqual([
      { from: 'starting', to: 'donating', reason: 'donating', text: expect.any(String) },
    ]);
    expect(status.log.map((entry) => entry.msg)).toContainEqual(
      expect.stringMatching(/^starting → donating/),
    );
  });

  it('pauses on battery when the settings say so, and resumes on mains at the next look', async () => {
    const s = await setup();
    s.probes.battery = { onBattery: true, percent: 64 };
    const settings = settingsWith(
      {},
      { power: { ...HEADLESS_DEFAULT_SETTINGS.power, run_on_battery: false } },
    );
    const donor = await open(s, { settings });
    const transitions = record(donor);
    await donor.start();
    expect(await s.gw.hello(1)).toMatchObject({ paused: true });
    expect(donor.status()).toMatchObject({ state: 'paused', reason: 'on_battery' });
    expect(donor.status().reason_text).toMatch(/64/);
    s.gw.offer('on-battery');
    expect(await s.gw.frame(frameOf('reject', 'job_id', 'on-battery'))).toMatchObject({ reason: 'paused' });

    s.probes.battery = { onBattery: false, percent: 64 };
    s.clock.advance(TICK_MS - 1);
    expect(donor.status().state).toBe('paused');
    s.clock.advance(1);
    expect(donor.status()).toMatchObject({ state: 'donating', reason: 'donating' });
    await s.gw.frame((frame) => frame.type === 'capacity' && !frame.paused);
    s.gw.offer('on-mains');
    await s.gw.frame(frameOf('done', 'job_id', 'on-mains'));
    expect(transitions.map((t) => `${t.from}→${t.to} ${t.reason}`)).toEqual([
      'starting→paused on_battery',
      'paused→donating donating',
    ]);
  });

  it('gives the runner new caps only when they change', async () => {
    const s = await setup();
    const donor = await open(s);
    await donor.start();
    await s.gw.hello(1);
    donor.updateSettings(settingsWith({ max_jobs: 3, cpu_cores: 1.5, memory_mb: 256 }));
    expect(await s.gw.frame(frameOf('capacity'))).toEqual({ type: 'capacity', slots: 3, paused: false });
    expect(donor.status().caps).toEqual({ slots: 3, cpus: 0.5, memory_mb: 256, languages: ['python'] });
    const capsLines = () => donor.status().log.filter((entry) => entry.msg.startsWith('caps:'));
    expect(capsLines()).toHaveLength(1);
    s.clock.advance(3 * TICK_MS);
    donor.updateSettings(
      settingsWith({ max_jobs: 3, cpu_cores: 1.5, memory_mb: 256, other_cpu_percent: 90 }),
    );
    expect(capsLines()).toHaveLength(1);
    s.gw.offer('capped', { limits: { memory_bytes: 512 * 2 ** 20 } });
    await s.gw.frame(frameOf('done', 'job_id', 'capped'));
    // The pool's sandboxes from now on have the new memory cap (the job ran in one of them).
    expect([...s.docker.live.values()].map((spec) => spec.memoryBytes)).toContain(256 * 2 ** 20);
    expect(s.docker.updates.every((update) => update.memoryBytes <= 256 * 2 ** 20)).toBe(true);
  });

  it('restarts the runner to offer other languages, with the same identity', async () => {
    const s = await setup();
    s.docker.images.add('codeexec/ruby:latest');
    const donor = await open(s);
    await donor.start();
    const first = await s.gw.hello(1);
    expect(first.languages.map((l) => l.name)).toEqual(['python']);
    donor.updateSettings(settingsWith({ languages: ['python', 'ruby'] }));
    const second = await s.gw.hello(2);
    expect(second.languages.map((l) => l.name)).toEqual(['python', 'ruby']);
    expect(second.name).toBe(first.name);
    await until(donor, (st) => st.state === 'donating' && st.caps.languages?.length === 2);
    s.gw.offer('ruby-job', { lang: 'ruby' });
    await s.gw.frame(frameOf('done', 'job_id', 'ruby-job'));
  });

  it('is one process per data directory: a second donor over it is refused', async () => {
    const s = await setup();
    await open(s);
    await expect(open(s)).rejects.toBeInstanceOf(DataDirLockedError);
  });

  it('refuses settings naming a language that does not exist, changing nothing', async () => {
    const s = await setup();
    const donor = await open(s);
    expect(() => donor.updateSettings(settingsWith({ languages: ['cobol-2077'] }))).toThrow(
      /unknown language/,
    );
    expect(donor.settings.limits.languages).toEqual(['python']);
  });
});

describe('DonorService: the owner', () => {
  it('pauses until a time, then donates again by itself', async () => {
    const s = await setup();
    const donor = await open(s);
    await donor.start();
    await s.gw.hello(1);
    const until1h = s.clock.now() + 3_600_000;
    donor.pause(until1h);
    expect(donor.status()).toMatchObject({
      state: 'paused',
      reason: 'paused_by_owner',
      paused_until: until1h,
    });
    await s.gw.frame((frame) => frame.type === 'capacity' && frame.paused);
    await expect
      .poll(() => ownerFile(s.dir))
      .toEqual({
        kind: 'paused',
        until: until1h,
      });
    s.clock.advance(3_600_000);
    expect(donor.status()).toMatchObject({ state: 'donating', reason: 'donating' });
    expect(donor.status().paused_until).toBeUndefined();
    expect(() => donor.pause(s.clock.now() - 1)).toThrow(RangeError);
  });

  it('keeps an indefinite pause across a restart of the donor', async () => {
    const s = await setup();
    const first = await open(s);
    await first.start();
    await s.gw.hello(1);
    first.pause(null);
    await first.close();
    expect(first.status().state).toBe('stopped');

    const second = await open(s);
    await second.start();
    expect(await s.gw.hello(2)).toMatchObject({ paused: true });
    expect(second.status()).toMatchObject({ state: 'paused', reason: 'paused_by_owner', paused_until: null });
    second.resume();
    expect(second.status().state).toBe('donating');
    await expect.poll(() => ownerFile(s.dir)).toEqual({ kind: 'none' });
  });

  it('finishes the running job, takes nothing new, and shows paused once it ended', async () => {
    const s = await setup();
    const donor = await open(s);
    await donor.start();
    await s.gw.hello(1);
    const gate = new Gate();
    s.docker.jobGate = gate.wait;
    s.gw.offer('long');
    await until(donor, (st) => st.running === 1);
    expect(donor.status().jobs).toEqual([{ id: 'long', lang: 'python', started_at: s.clock.now() }]);
    let finished = false;
    const finishing = donor.finish().then(() => {
      finished = true;
    });
    expect(donor.status()).toMatchObject({ state: 'finishing', reason: 'finishing_by_owner', running: 1 });
    s.gw.offer('late');
    expect(await s.gw.frame(frameOf('reject', 'job_id', 'late'))).toMatchObject({ reason: 'paused' });
    expect(finished).toBe(false);
    gate.open();
    await finishing;
    expect(await s.gw.frame(frameOf('done', 'job_id', 'long'))).toMatchObject({
      result: { reason: 'exited' },
    });
    // Finishing with nothing left to run is paused, for the owner.
    expect(donor.status()).toMatchObject({ state: 'paused', reason: 'finishing_by_owner', running: 0 });
    await expect.poll(() => ownerFile(s.dir)).toEqual({ kind: 'finish' });
  });

  it('pausing hands the running job back to the gateway at once; it does not count', async () => {
    const s = await setup();
    const donor = await open(s);
    await donor.start();
    await s.gw.hello(1);
    const gate = new Gate();
    onTestFinished(() => gate.open());
    s.docker.jobGate = gate.wait;
    s.gw.offer('interrupted');
    await until(donor, (st) => st.running === 1);
    donor.pause(null);
    expect(await s.gw.frame(frameOf('release', 'job_id', 'interrupted'))).toMatchObject({
      reason: 'Paused until you resume',
    });
    const status = await until(donor, (st) => st.running === 0);
    expect(status).toMatchObject({ state: 'paused', reason: 'paused_by_owner', jobs_done: 0 });
    expect(status.log.map((entry) => entry.msg)).toContain('job interrupted (python) handed back');
  });

  it('takes no command once stopping', async () => {
    const s = await setup();
    const donor = await open(s);
    await donor.close();
    expect(() => donor.resume()).toThrow(/stopping/);
  });
});

describe('DonorService: the ledger', () => {
  it('counts jobs and their time, and writes the ledger a little later', async () => {
    const s = await setup();
    const donor = await open(s);
    await donor.start();
    await s.gw.hello(1);
    s.gw.offer('one');
    s.gw.offer('two');
    const status = await until(donor, (st) => st.jobs_done === 2);
    expect(status).toMatchObject({ jobs_today: 2, running: 0 });
    expect(status.cpu_seconds).toBeGreaterThanOrEqual(0);
    expect(status.cpu_seconds_today).toBe(status.cpu_seconds);
    const path = join(s.dir, LEDGER_FILE);
    await expect(readFile(path, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    s.clock.advance(LEDGER_SAVE_MS);
    await expect
      .poll(() => readFile(path, 'utf8').then(JSON.parse, () => null))
      .toMatchObject({ jobs_done: 2 });
  });

  it("stops donating once today's CPU budget is spent, counting what the ledger holds", async () => {
    const s = await setup();
    const today = localDayKey(new Date(s.clock.now()));
    await writeFile(
      join(s.dir, LEDGER_FILE),
      JSON.stringify({
        version: 1,
        day: today,
        jobs_done: 40,
        jobs_today: 4,
        cpu_seconds: 900,
        cpu_seconds_today: 120,
      }),
    );
    const donor = await open(s, { settings: settingsWith({ daily_cpu_minutes: 2 }) });
    await donor.start();
    expect(await s.gw.hello(1)).toMatchObject({ paused: true });
    expect(donor.status()).toMatchObject({ state: 'paused', reason: 'budget_spent', jobs_done: 40 });
  });

  it('refuses to start over a damaged ledger', async () => {
    const s = await setup();
    await writeFile(join(s.dir, LEDGER_FILE), '{"version": 1, "jobs_done": -3}');
    await expect(open(s)).rejects.toThrow(/ledger\.json/);
    // It gave the directory up: a donor can open it once the file is fixed.
    await rm(join(s.dir, LEDGER_FILE));
    await expect(open(s)).resolves.toBeInstanceOf(DonorService);
  });
});

describe('DonorService: what it tells its owner', () => {
  it('reports the engine missing, then back', async () => {
    const s = await setup();
    s.docker.down = true;
    const donor = await open(s, {
      runner: { driver: s.docker, engineRetryMinMs: 10, engineRetryMaxMs: 20 },
    });
    const starting = donor.start();
    const missing = await until(donor, (st) => st.engine_problem !== null);
    expect(missing.engine_problem).toMatch(/start Docker/);
    expect(missing.state).toBe('starting');
    s.docker.down = false;
    await starting;
    expect(await until(donor, (st) => st.engine_problem === null)).toMatchObject({ state: 'donating' });
  });

  it('reports the connection retrying after a drop', async () => {
    const s = await setup();
    const donor = await open(s, { runner: { driver: s.docker, minBackoffMs: 300, maxBackoffMs: 300 } });
    await donor.start();
    await until(donor, (st) => st.connection.state === 'connected');
    s.gw.drop();
    const retrying = await until(donor, (st) => st.connection.state === 'retrying');
    expect(retrying.connection.retry_in_ms).toBeGreaterThan(0);
    await until(donor, (st) => st.connection.state === 'connected');
  });

  it('says the gateway refused it, and emits fatal', async () => {
    const s = await setup();
    const refusing = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/runners/connect' });
    onTestFinished(() => new Promise<void>((resolve) => refusing.close(() => resolve())));
    refusing.on('connection', (socket) => socket.close(4401, 'the token is not valid'));
    await new Promise((resolve) => refusing.once('listening', resolve));
    const address = refusing.address() as { port: number };
    const donor = await open(s, { gatewayUrl: `http://127.0.0.1:${address.port}` });
    const fatal = donor.next('fatal');
    await donor.start();
    expect((await fatal).message).toMatch(/4401/);
    expect(donor.status().connection).toMatchObject({
      state: 'refused',
      message: expect.stringMatching(/token/),
    });
  });

  it('keeps the last 50 journal entries', async () => {
    const s = await setup();
    const donor = await open(s);
    await donor.start();
    for (let i = 0; i < 30; i++) {
      donor.pause(null);
      donor.resume();
    }
    const { log } = donor.status();
    expect(log).toHaveLength(50);
    expect(log.at(-1)?.msg).toMatch(/donating/);
  });
});
