// A job whose insert the store refuses (PostgreSQL unreachable) was never accepted: it leaves the
// book, no runner is offered it, and whoever watches it hears it failed with store_unavailable.
import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../shared/index.js';
import { MemoryJobStore } from '../store/memory-job-store.js';
import { StoreError } from '../store/store-errors.js';
import { dispatchCore } from './dispatcher-fixture.js';

/** A memory store whose inserts fail while `down` is set, as an unreachable database's do. */
class FlakyStore extends MemoryJobStore {
  down = false;
  override async insert(job: JobRecord): Promise<void> {
    if (this.down) throw new StoreError('unavailable', 'connect ECONNREFUSED 127.0.0.1:5432');
    return super.insert(job);
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('a job the store could not take', () => {
  it('is not run, and its watchers hear it failed with store_unavailable', async () => {
    const store = new FlakyStore();
    const core = dispatchCore({ store });
    const runner = core.connect('r1');
    store.down = true;
    const { job, durable } = core.intake.submit({ lang: 'python', code: 'x' });
    const ends: JobRecord[] = [];
    core.dispatcher.watch(job.id, { end: (record) => ends.push(record) });
    await expect(durable).rejects.toMatchObject({ code: 'unavailable' });
    await settle();
    expect(ends).toMatchObject([{ id: job.id, status: 'failed', error: { code: 'store_unavailable' } }]);
    expect(core.book.get(job.id)).toBeUndefined();
    expect(core.offers(runner)).toEqual([]);
    expect(core.book.queuedCount).toBe(0);
    // The store is back: the next job runs as usual.
    store.down = false;
    const next = core.intake.submit({ lang: 'python', code: 'y' }).job;
    await settle();
    await settle();
    expect(core.offers(runner)).toEqual([next.id]);
  });
});
