// The dashboard's feed on the gateway's real core (dispatcher, registry, in-memory store) with a
// fake clock: the snapshot, coalescing into one frame of each kind per window however many jobs
// come, runners joining, changing, leaving and heartbeating, and frames that wait for the
// snapshot. No sockets, no sleeps.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ADMIN_FRAME_INTERVAL_MS,
  ADMIN_RECENT_JOBS,
  type AdminFrame,
  silentLogger,
} from '../../shared/index.js';
import { type Core, dispatchCore, result } from '../jobs/dispatcher-fixture.js';
import { runnerViews } from '../runners/runner-views.js';
import { AdminFeed } from './admin-feed.js';

let core: Core;
let feed: AdminFeed;

beforeEach(() => {
  core = dispatchCore({ queueTimeoutMs: 60_000 });
  feed = new AdminFeed({
    events: core.events,
    runners: () => runnerViews(core.registry, core.reliability),
    queuedByLanguage: () => core.dispatcher.queuedByLanguage(),
    store: core.store,
    clock: core.clock,
    log: silentLogger,
    heartbeatMs: 5_000,
  });
});
afterEach(() => {
  feed.close();
  core.close();
});

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const submit = (lang = 'python') => core.intake.submit({ lang, code: 'print(1)' }, false, 'key:abc').job;

/** Subscribes and collects the frames, parsed. */
async function watch() {
  const frames: AdminFrame[] = [];
  const stop = feed.subscribe((text) => frames.push(JSON.parse(text) as AdminFrame));
  await settle();
  return {
    frames,
    stop,
    of: <T extends AdminFrame['type']>(type: T) => frames.filter((f) => f.type === type),
  };
}

type Of<T extends AdminFrame['type']> = Extract<AdminFrame, { type: T }>;

describe('the snapshot', () => {
  it('has the runners, the queue by language and the recent jobs, newest first, without code', async () => {
    const runner = core.connect('r1', { slots: 1, languages: ['python', 'go'] });
    const first = submit();
    await settle();
    core.dispatcher.accepted(runner, first.id);
    const waiting = [submit(), submit('go')];
    await settle();

    const { frames } = await watch();
    expect(frames).toHaveLength(1);
    const snapshot = frames[0] as Of<'snapshot'>;
    expect(snapshot).toMatchObject({ type: 'snapshot', heartbeat_ms: 5_000, queue: { python: 1, go: 1 } });
    expect(snapshot.runners).toEqual([
      expect.objectContaining({
        name: 'r1',
        tier: 'trusted',
        state: 'ready',
        slots: 1,
        load: 1,
        jobs_done: 0,
        languages: ['go', 'python'],
        last_seen_at: expect.any(String),
      }),
    ]);
    expect(snapshot.jobs.map((job) => job.id)).toEqual([waiting[1]!.id, waiting[0]!.id, first.id]);
    expect(snapshot.jobs[2]).toMatchObject({
      status: 'running',
      runner: 'r1',
      client: 'key:abc',
      attempt: 1,
      timings: { queue_ms: expect.any(Number) },
    });
    expect(JSON.stringify(snapshot)).not.toContain('print(1)');
  });

  it('lists at most the newest ADMIN_RECENT_JOBS', async () => {
    core.connect('r1', { slots: 1 });
    const ids = Array.from({ length: ADMIN_RECENT_JOBS + 10 }, () => submit().id);
    await settle();
    const snapshot = (await watch()).frames[0] as Of<'snapshot'>;
    expect(snapshot.jobs.map((job) => job.id)).toEqual(ids.slice(-ADMIN_RECENT_JOBS).reverse());
  });
});

describe('changes, coalesced', () => {
  it('sends a change at once after a quiet spell, then at most one frame of each kind per window', async () => {
    const runner = core.connect('r1', { slots: 2 });
    const { frames, of } = await watch();
    const job = submit();
    await settle();
    core.clock.advance(0);
    // The job queued and was offered (a slot in use): one frame of each kind, at once.
    expect(of('jobs')).toEqual([
      expect.objectContaining({ jobs: [expect.objectContaining({ id: job.id })] }),
    ]);
    expect(of('runners')).toEqual([
      expect.objectContaining({ runners: [expect.objectContaining({ name: 'r1', load: 1 })], left: [] }),
    ]);
    const count = frames.length;

    // Within the window, nothing goes out: the next frame waits for its end.
    core.dispatcher.accepted(runner, job.id);
    core.dispatcher.done(runner, job.id, result('1\n'));
    core.clock.advance(ADMIN_FRAME_INTERVAL_MS - 1);
    expect(frames).toHaveLength(count);
    core.clock.advance(1);
    const jobs = of('jobs').at(-1) as Of<'jobs'>;
    expect(jobs.jobs).toEqual([
      expect.objectContaining({ id: job.id, status: 'done', reason: 'exited', exit_code: 0, runner: 'r1' }),
    ]);
    expect(of('runners').at(-1)).toMatchObject({ runners: [{ name: 'r1', load: 0, jobs_done: 1 }] });
  });

  it('turns a burst of 500 jobs into a few small frames: one of each kind per window', async () => {
    const runner = core.connect('r1', { slots: 4 });
    const { frames } = await watch();
    const start = core.clock.now();
    for (let i = 0; i < 500; i++) {
      const job = submit();
      await settle();
      if (i % 2 === 0) {
        // Half of them run and end; the others wait.
        core.dispatcher.accepted(runner, job.id);
        core.dispatcher.done(runner, job.id, result(''));
      }
      core.clock.advance(2); // 500 jobs a second
    }
    core.clock.advance(ADMIN_FRAME_INTERVAL_MS);
    const windows = Math.ceil((core.clock.now() - start) / ADMIN_FRAME_INTERVAL_MS) + 1;
    for (const type of ['runners', 'queue', 'jobs'] as const) {
      const sent = frames.filter((f) => f.type === type);
      expect(sent.length).toBeGreaterThan(0);
      expect(sent.length).toBeLessThanOrEqual(windows);
      // Never two of a kind closer than the window.
      const times = sent.map((f) => Date.parse((f as Of<typeof type>).at));
      for (let i = 1; i < times.length; i++) {
        expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(ADMIN_FRAME_INTERVAL_MS);
      }
    }
    for (const frame of frames.filter((f) => f.type === 'jobs') as Of<'jobs'>[]) {
      expect(frame.jobs.length).toBeLessThanOrEqual(ADMIN_RECENT_JOBS);
    }
    // The last queue frame is the depth now.
    const queued = core.dispatcher.queuedByLanguage().get('python');
    expect(frames.filter((f) => f.type === 'queue').at(-1)).toMatchObject({ queue: { python: queued } });
  });

  it('sends nothing when nothing changed', async () => {
    core.connect('r1');
    const { frames } = await watch();
    core.clock.advance(10_000);
    expect(frames.map((f) => f.type)).toEqual(['snapshot']);
  });

  it('holds frames flushed while the snapshot is read, and sends them after it', async () => {
    core.connect('r1', { slots: 0 });
    const frames: AdminFrame[] = [];
    feed.subscribe((text) => frames.push(JSON.parse(text) as AdminFrame));
    // Before the store's answer: a job is queued and the window passes.
    const job = submit();
    core.clock.advance(ADMIN_FRAME_INTERVAL_MS);
    expect(frames).toEqual([]);
    await settle();
    expect(frames.map((f) => f.type)).toEqual(['snapshot', 'queue', 'jobs']);
    expect(frames[2]).toMatchObject({ jobs: [{ id: job.id, status: 'queued' }] });
  });
});

describe('runners', () => {
  it('announces runners joining, pausing, draining and leaving (with why)', async () => {
    const { of } = await watch();
    const runner = core.connect('r1');
    core.clock.advance(ADMIN_FRAME_INTERVAL_MS);
    expect(of('runners').at(-1)).toMatchObject({ runners: [{ name: 'r1', state: 'ready' }], left: [] });

    core.registry.setCapacity(runner, 2, true);
    core.clock.advance(ADMIN_FRAME_INTERVAL_MS);
    expect(of('runners').at(-1)).toMatchObject({ runners: [{ name: 'r1', state: 'paused' }] });

    core.registry.setCapacity(runner, 2, false);
    core.registry.drain(runner);
    core.clock.advance(ADMIN_FRAME_INTERVAL_MS);
    expect(of('runners').at(-1)).toMatchObject({ runners: [{ name: 'r1', state: 'draining' }] });

    core.dispatcher.runnerGone(runner, true, 'closed by its owner');
    core.clock.advance(ADMIN_FRAME_INTERVAL_MS);
    expect(of('runners').at(-1)).toMatchObject({
      runners: [],
      left: [{ name: 'r1', reason: 'closed by its owner' }],
    });
  });

  it('catches what raises no event on the refresh: a heartbeat, a quarantine', async () => {
    const runner = core.connect('r1');
    const { of } = await watch();
    runner.lastSeen += 5_000;
    core.clock.advance(1_000);
    expect(of('runners')).toEqual([
      expect.objectContaining({
        runners: [expect.objectContaining({ last_seen_at: new Date(runner.lastSeen).toISOString() })],
      }),
    ]);
    core.reliability.quarantine('r1', true);
    core.clock.advance(1_000);
    expect(of('runners').at(-1)).toMatchObject({ runners: [{ name: 'r1', state: 'quarantined' }] });
  });
});

describe('subscriptions', () => {
  it('listens only while someone subscribes', async () => {
    core.connect('r1');
    const idle = core.clock.pending;
    const a = await watch();
    const b = await watch();
    expect(feed.size).toBe(2);
    expect(core.clock.pending).toBe(idle + 1); // the refresh
    a.stop();
    submit();
    core.clock.advance(ADMIN_FRAME_INTERVAL_MS);
    expect(a.frames.map((f) => f.type)).toEqual(['snapshot']);
    expect(b.frames.map((f) => f.type)).toContain('jobs');
    const busy = core.clock.pending;
    b.stop();
    expect(feed.size).toBe(0);
    // Its refresh timer is gone with the last subscriber.
    expect(core.clock.pending).toBe(busy - 1);
  });
});
