// The conformance suite of the JobStore contract (job-store-api.ts), written once: every
// implementation's test file calls describeJobStore with a factory, and passes the same tests.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobRecord, JobState } from '../../shared/index.js';
import { newJob } from '../jobs/new-job.js';
import type { JobStore } from './job-store-api.js';
import { canTransition } from './job-transitions.js';
import type { StoreErrorCode } from './store-errors.js';

export interface StoreUnderTest {
  /** An opened, empty store. */
  store: JobStore;
  /** Opens another store on the same data, after the test closed `store`. Absent: nothing persists. */
  reopen?: () => Promise<JobStore>;
  /** Closes whatever is still open and removes the data. */
  cleanup: () => Promise<void>;
}

/** A new queued python job, as the dispatcher stores one, under a chosen id. */
export function testJob(id: string, fields: Partial<JobRecord> = {}): JobRecord {
  const job = newJob(
    { lang: 'python', code: 'print(1)' },
    { lang: 'python', interactive: false, client: null },
  );
  return { ...job, id, ...fields };
}

const STATES: JobState[] = ['queued', 'running', 'done', 'failed', 'cancelled'];
const PAIRS = STATES.flatMap((from) => STATES.map((to) => [from, to, canTransition(from, to)] as const));
const rejectsWith = (promise: Promise<unknown>, code: StoreErrorCode) =>
  expect(promise).rejects.toMatchObject({ code });
const ids = (jobs: JobRecord[]) => jobs.map((job) => job.id);

export function describeJobStore(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`JobStore conformance: ${name}`, () => {
    let t: StoreUnderTest;
    let store: JobStore;
    beforeEach(async () => {
      t = await makeStore();
      store = t.store;
    });
    afterEach(() => t.cleanup());
    /** Closes the store and opens it again (or goes on with it, for a store that keeps nothing). */
    const reopened = async (): Promise<JobStore> => {
      if (!t.reopen) return store;
      await store.close();
      return t.reopen();
    };

    it('inserts and gets a job, and refuses a second one of the same id', async () => {
      const job = testJob('a', { task_id: 't' });
      await store.insert(job);
      expect(await store.get('a')).toEqual(job);
      expect(await store.get('nope')).toBeUndefined();
      await rejectsWith(store.insert(testJob('a', { task_id: 'other' })), 'duplicate_id');
      expect((await store.get('a'))?.task_id).toBe('t');
      expect(await store.size()).toBe(1);
    });

    it('refuses a malformed record and stores nothing', async () => {
      await rejectsWith(
        store.insert({ ...testJob('bad'), attempt: 'one' } as unknown as JobRecord),
        'invalid_record',
      );
      expect(await store.get('bad')).toBeUndefined();
    });

    it.each(PAIRS)('%s → %s allowed: %s', async (from, to, allowed) => {
      await store.insert(testJob('x', { status: from }));
      const move = store.transition('x', to, { runner_id: 'r1' });
      if (allowed) {
        expect(await move).toMatchObject({ id: 'x', status: to, runner_id: 'r1' });
        expect(await store.get('x')).toMatchObject({ status: to, runner_id: 'r1' });
      } else {
        await rejectsWith(move, 'forbidden_transition');
        expect(await store.get('x')).toMatchObject({ status: from, runner_id: null });
      }
    });

    it('refuses to move a job it does not have', async () => {
      await rejectsWith(store.transition('ghost', 'running'), 'not_found');
    });

    it('updates fields in any state, leaves undefined ones, and answers undefined for no job', async () => {
      await store.insert(testJob('x', { status: 'done', callback_url: 'http://h/' }));
      const delivery = { state: 'delivered' as const, attempts: 1, last_error: null, delivered_at: 'now' };
      const updated = await store.update('x', { callback: delivery, runner_id: undefined });
      expect(updated).toMatchObject({ status: 'done', callback: delivery, runner_id: null });
      expect(await store.get('x')).toEqual(updated);
      expect(await store.update('ghost', { callback: delivery })).toBeUndefined();
    });

    it('gives records that cannot change stored data, and keeps earlier ones as they were', async () => {
      const mine = testJob('x');
      await store.insert(mine);
      mine.output = 'changed by the caller';
      const got = (await store.get('x'))!;
      try {
        got.output = 'mutated';
        got.timings.total_ms = 5;
      } catch {} // frozen records throw in strict mode; copies just change
      const moved = await store.transition('x', 'running');
      expect(moved).toMatchObject({ output: '', timings: { total_ms: null } });
      expect(await store.get('x')).toMatchObject({ status: 'running', output: '' });
      const before = (await store.get('x'))!;
      await store.transition('x', 'done', { output: 'late' });
      expect(before).toMatchObject({ status: 'running', output: '' });
    });

    it('lists newest first, filtered, one page at a time', async () => {
      for (let i = 0; i < 7; i++) {
        await store.insert(
          testJob(`j${i}`, { task_id: i % 2 ? 'odd' : 'even', client: i < 4 ? 'key:a' : 'key:b' }),
        );
      }
      expect(await store.list({}, 0, 3)).toEqual({ jobs: expect.any(Array), more: true });
      expect(ids((await store.list({}, 0, 3)).jobs)).toEqual(['j6', 'j5', 'j4']);
      expect(ids((await store.list({}, 6, 3)).jobs)).toEqual(['j0']);
      expect((await store.list({}, 4, 3)).more).toBe(false);
      expect(ids((await store.list({ task_id: 'odd' }, 0, 10)).jobs)).toEqual(['j5', 'j3', 'j1']);
      expect(ids((await store.list({ task_id: 'odd', client: 'key:a' }, 1, 10)).jobs)).toEqual(['j1']);
      expect(await store.list({ client: 'key:c' }, 0, 10)).toEqual({ jobs: [], more: false });
    });

    it('lists unfinished jobs oldest first, a re-queued one in its place', async () => {
      for (const id of ['a', 'b', 'c', 'd']) await store.insert(testJob(id));
      await store.transition('a', 'running');
      await store.transition('b', 'running');
      await store.transition('b', 'done');
      await store.transition('c', 'cancelled');
      await store.transition('a', 'queued');
      expect(ids(await store.unfinished())).toEqual(['a', 'd']);
    });

    it('lists finished jobs whose callback is pending', async () => {
      const pending = { state: 'pending' as const, attempts: 0, last_error: null, delivered_at: null };
      await store.insert(testJob('done-pending', { status: 'done', callback: pending }));
      await store.insert(testJob('queued-pending', { callback: pending }));
      await store.insert(
        testJob('failed-pending', { status: 'failed', callback: { ...pending, attempts: 2 } }),
      );
      await store.insert(
        testJob('done-delivered', { status: 'done', callback: { ...pending, state: 'delivered' } }),
      );
      await store.insert(testJob('done-none', { status: 'done' }));
      expect(ids(await store.pendingCallbacks())).toEqual(['done-pending', 'failed-pending']);
    });

    it('counts queued jobs and unfinished ones per client, and keeps counting after a reopen', async () => {
      await store.insert(testJob('a1', { client: 'key:a' }));
      await store.insert(testJob('a2', { client: 'key:a' }));
      await store.insert(testJob('b1', { client: 'key:b' }));
      const counts = async (s: JobStore) =>
        Promise.all([s.queuedCount(), s.unfinishedOf('key:a'), s.unfinishedOf('key:b')]);
      expect(await counts(store)).toEqual([3, 2, 1]);
      await store.transition('a1', 'running');
      expect(await counts(store)).toEqual([2, 2, 1]);
      await store.transition('a1', 'done');
      await store.transition('b1', 'cancelled');
      expect(await counts(store)).toEqual([1, 1, 0]);
      expect(await counts(await reopened())).toEqual([1, 1, 0]);
    });

    describe('prune', () => {
      const now = Date.parse('2030-01-01T00:00:00Z');
      const ago = (hours: number) => new Date(now - hours * 3600_000).toISOString();
      /** Oldest first: [id, status, finished hours ago]. */
      const jobs: [string, JobState, number | null][] = [
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
        for (const [id, status, hours] of jobs) {
          await store.insert(testJob(id, { status, finished_at: hours === null ? null : ago(hours) }));
        }
        const removed = await store.prune(new Date(now - maxAgeHours * 3600_000), keep);
        expect(removed).toBe(4 - finishedLeft.length);
        const expected = ['old-queued', 'old-running', ...finishedLeft];
        const left = async (s: JobStore) => ids((await s.list({}, 0, 100)).jobs).sort();
        expect(await left(store)).toEqual(expected.sort());
        expect(await left(await reopened())).toEqual(expected.sort());
      });
    });

    it('keeps every job and change across a close and reopen', async () => {
      await store.insert(testJob('a', { client: 'key:a' }));
      await store.insert(testJob('b'));
      await store.insert(testJob('c', { status: 'done', finished_at: '2000-01-01T00:00:00.000Z' }));
      await store.transition('a', 'running', { runner_id: 'r1', attempt: 1 });
      await store.transition('a', 'done', { output: '1\n', exit_code: 0, reason: 'exited' });
      await store.update('b', { labels: ['gpu'] });
      await store.prune(new Date('2001-01-01T00:00:00Z'), 100);
      const before = (await store.list({}, 0, 10)).jobs;
      const again = await reopened();
      expect((await again.list({}, 0, 10)).jobs).toEqual(before);
      expect(ids(before)).toEqual(['b', 'a']);
      expect(await again.get('a')).toMatchObject({ status: 'done', output: '1\n', runner_id: 'r1' });
      expect(ids(await again.unfinished())).toEqual(['b']);
      await again.transition('b', 'running');
    });

    it('applies writes in call order, visible to reads before they resolve', async () => {
      const writes = [store.insert(testJob('x'))];
      expect((await store.get('x'))?.status).toBe('queued');
      writes.push(store.transition('x', 'running').then(() => {}));
      expect((await store.get('x'))?.status).toBe('running');
      for (let attempt = 1; attempt <= 5; attempt++)
        writes.push(store.update('x', { attempt }).then(() => {}));
      expect((await store.get('x'))?.attempt).toBe(5);
      await Promise.all(writes);
      expect(await (await reopened()).get('x')).toMatchObject({ status: 'running', attempt: 5 });
    });

    it('makes every write of one turn durable', async () => {
      const writes = Array.from({ length: 200 }, (_, i) => store.insert(testJob(`j${i}`)));
      writes.push(store.transition('j0', 'running').then(() => {}));
      await Promise.all(writes);
      await store.flush();
      const again = await reopened();
      expect(await again.size()).toBe(200);
      expect((await again.get('j0'))?.status).toBe('running');
    });

    it('refuses writes once closed', async () => {
      await store.insert(testJob('x'));
      await store.close();
      await rejectsWith(store.insert(testJob('y')), 'closed');
      await rejectsWith(store.transition('x', 'running'), 'closed');
    });
  });
}
