import { describe, expect, it } from 'vitest';
import { FakeClock } from './clock.js';
import { JobQueue } from './job-queue.js';

describe('JobQueue', () => {
  it('keeps arrival order, puts returning jobs at the front, and marks them requeued', () => {
    const queue = new JobQueue(new FakeClock(), () => {});
    queue.add('a', 1000);
    queue.add('b', 1000);
    queue.add('back', 1000, true);
    queue.add('a', 1000); // already queued: no second entry
    expect(queue.entries()).toEqual([
      { id: 'back', requeued: true },
      { id: 'a', requeued: false },
      { id: 'b', requeued: false },
    ]);
    queue.takeAll(new Set(['back', 'b']));
    expect(queue.entries().map((e) => e.id)).toEqual(['a']);
  });

  it('fires a job’s timeout once, after its own wait, unless it was dropped', () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    const queue = new JobQueue(clock, (id) => fired.push(id));
    queue.add('short', 100);
    queue.add('long', 1000);
    queue.add('gone', 100);
    queue.drop('gone');
    clock.advance(100);
    expect(fired).toEqual(['short']);
    queue.take('long'); // offered: the timer runs on
    clock.advance(900);
    expect(fired).toEqual(['short', 'long']);
  });

  it('keeps the first wait’s timer for a job that comes back, and rearms on demand', () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    const queue = new JobQueue(clock, (id) => fired.push(id));
    queue.add('j', 1000);
    clock.advance(600);
    queue.take('j');
    queue.add('j', 1000, true);
    clock.advance(400);
    expect(fired).toEqual(['j']);
    queue.rearm('j', 1000);
    clock.advance(999);
    expect(fired).toEqual(['j']);
    clock.advance(1);
    expect(fired).toEqual(['j', 'j']);
  });
});
