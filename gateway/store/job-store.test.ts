import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../shared/index.js';
import { newJob } from '../jobs/new-job.js';
import { JobStore, StoreCorruptError } from './job-store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'codeexec-store-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** A new queued python job, as the dispatcher stores one, under a chosen id. */
function job(id: string): JobRecord {
  return {
    ...newJob({ lang: 'python', code: 'print(1)' }, { lang: 'python', interactive: false, client: null }),
    id,
  };
}

describe('JobStore', () => {
  it('keeps jobs across a reopen, with their changes', async () => {
    const store = new JobStore(dir);
    await store.open();
    store.insert(job('a'));
    store.insert(job('b'));
    store.transition('a', 'running', { runner_id: 'r1', attempt: 1 });
    store.transition('a', 'done', { output: '1\n', exit_code: 0, reason: 'exited' });
    await store.flush();

    const again = new JobStore(dir);
    await again.open();
    expect(again.get('a')).toMatchObject({ status: 'done', output: '1\n', exit_code: 0, runner_id: 'r1' });
    expect(again.unfinished().map((j) => j.id)).toEqual(['b']);
  });

  it('coalesces a burst of changes into few writes, all on disk after flush', async () => {
    const store = new JobStore(dir);
    await store.open();
    for (let i = 0; i < 200; i++) store.insert(job(`j${i}`));
    await store.flush();
    const data = JSON.parse(await readFile(join(dir, 'jobs.json'), 'utf8'));
    expect(data.jobs).toHaveLength(200);
  });

  it.each([
    ['queued', 'done'],
    ['done', 'running'],
    ['failed', 'queued'],
    ['cancelled', 'running'],
  ] as const)('refuses %s → %s', async (from, to) => {
    const store = new JobStore(dir);
    await store.open();
    store.insert({ ...job('x'), status: from });
    expect(() => store.transition('x', to)).toThrow(/not allowed/);
    await store.flush();
  });

  it.each([
    ['not JSON', '{"version":1,"jobs":[', /not valid JSON/],
    ['the wrong shape', '{"version":1,"jobs":[{"id":5}]}', /does not hold valid job records.*jobs\.0/],
    ['an unknown version', '{"version":2,"jobs":[]}', /version/],
  ])('refuses to start on a damaged file (%s) and leaves it untouched', async (_name, content, message) => {
    const file = join(dir, 'jobs.json');
    await writeFile(file, content);
    const store = new JobStore(dir);
    await expect(store.open()).rejects.toThrow(StoreCorruptError);
    await expect(new JobStore(dir).open()).rejects.toThrow(message);
    expect(await readFile(file, 'utf8')).toBe(content);
  });
});

describe('JobStore counts (what admission reads)', () => {
  it('follows inserts and transitions, per client, and is rebuilt on reopen', async () => {
    const store = new JobStore(dir);
    await store.open();
    store.insert({ ...job('a1'), client: 'key:a' });
    store.insert({ ...job('a2'), client: 'key:a' });
    store.insert({ ...job('b1'), client: 'key:b' });
    expect([store.queuedCount, store.unfinishedOf('key:a'), store.unfinishedOf('key:b')]).toEqual([3, 2, 1]);
    store.transition('a1', 'running');
    expect([store.queuedCount, store.unfinishedOf('key:a')]).toEqual([2, 2]);
    store.transition('a1', 'done');
    store.transition('b1', 'cancelled');
    expect([store.queuedCount, store.unfinishedOf('key:a'), store.unfinishedOf('key:b')]).toEqual([1, 1, 0]);
    await store.flush();
    const again = new JobStore(dir);
    await again.open();
    expect([again.queuedCount, again.unfinishedOf('key:a'), again.unfinishedOf('key:b')]).toEqual([1, 1, 0]);
  });
});

describe('JobStore.prune (retention)', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  const ago = (hours: number) => new Date(now - hours * 3600_000).toISOString();
  /** Oldest first, as jobs are stored: [id, status, finished hours ago]. */
  const jobs: [string, JobRecord['status'], number | null][] = [
    ['old-done', 'done', 50],
    ['old-queued', 'queued', null],
    ['mid-failed', 'failed', 30],
    ['old-running', 'running', null],
    ['new-done', 'done', 2],
    ['new-cancelled', 'cancelled', 1],
  ];

  it.each([
    ['nothing past either limit', 48 + 24, 100, ['old-done', 'mid-failed', 'new-done', 'new-cancelled']],
    ['by age', 24, 100, ['new-done', 'new-cancelled']],
    ['by count, oldest first', 1000, 1, ['new-cancelled']],
    ['by both', 40, 2, ['new-done', 'new-cancelled']],
    ['everything finished', 0, 0, []],
  ])('%s, never queued or running jobs', async (_name, maxAgeHours, keep, finishedLeft) => {
    const store = new JobStore(dir);
    await store.open();
    for (const [id, status, hours] of jobs) {
      store.insert({ ...job(id), status, finished_at: hours === null ? null : ago(hours) });
    }
    const removed = store.prune(new Date(now - maxAgeHours * 3600_000), keep);
    const left = jobs.map(([id]) => id).filter((id) => store.get(id));
    expect(left).toEqual(
      jobs
        .map(([id]) => id)
        .filter((id) => id.includes('queued') || id.includes('running') || finishedLeft.includes(id)),
    );
    expect(removed).toBe(4 - finishedLeft.length);
    await store.flush();
    const again = new JobStore(dir);
    await again.open();
    expect(again.size).toBe(left.length);
  });

  it('update() changes fields of a finished job, and is a no-op on a pruned one', async () => {
    const store = new JobStore(dir);
    await store.open();
    store.insert({ ...job('x'), status: 'done', finished_at: ago(100) });
    const delivery = { state: 'delivered' as const, attempts: 1, last_error: null, delivered_at: ago(0) };
    expect(store.update('x', { callback: delivery })?.callback).toEqual(delivery);
    store.prune(new Date(now), 100);
    expect(store.update('x', { callback: delivery })).toBeUndefined();
    await store.flush();
  });
});
