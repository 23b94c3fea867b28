// Admission's caps on plain data: the book's live counts, plus the other gateways' jobs when the
// gateway is one of a fleet.
import { describe, expect, it } from 'vitest';
import { testJob } from '../store/job-store-conformance.js';
import { MemoryJobStore } from '../store/memory-job-store.js';
import { Admission } from './admission.js';
import { JobBook } from './job-book.js';

async function bookWith(jobs: number, client: string) {
  const book = new JobBook(new MemoryJobStore(), () => {});
  for (let i = 0; i < jobs; i++) await book.insert(testJob(`j${i}`, { client }));
  return book;
}

describe('Admission', () => {
  it('caps a client and the queue on this gateway’s jobs', async () => {
    const admission = new Admission(await bookWith(2, 'key:a'), { maxQueue: 3, maxPerClient: 2 });
    expect(() => admission.check('key:a')).toThrowError(expect.objectContaining({ code: 'too_many_jobs' }));
    expect(() => admission.check('key:b')).not.toThrow();
    expect(() => admission.check(null)).not.toThrow();
  });

  it('counts the other gateways’ jobs too, in a fleet', async () => {
    const admission = new Admission(await bookWith(1, 'key:a'), { maxQueue: 3, maxPerClient: 2 });
    admission.setElsewhere(() => ({ queued: 1, byClient: new Map([['key:a', 1]]) }));
    expect(() => admission.check('key:a')).toThrowError(expect.objectContaining({ code: 'too_many_jobs' }));
    admission.setElsewhere(() => ({ queued: 2, byClient: new Map() }));
    expect(() => admission.check('key:b')).toThrowError(expect.objectContaining({ code: 'queue_full' }));
  });
});
