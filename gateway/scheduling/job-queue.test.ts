import { afterEach, describe, expect, it, vi } from 'vitest';
import { JobQueue } from './job-queue.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('JobQueue', () => {
  it('keeps ids in order, puts returning jobs first, and lets the caller take while walking', () => {
    const queue = new JobQueue(1000, () => {});
    queue.add('a');
    queue.add('b');
    queue.add('c', true);
    expect(queue.ids()).toEqual(['c', 'a', 'b']);
    for (const id of queue.ids()) if (id !== 'a') queue.take(id);
    expect(queue.ids()).toEqual(['a']);
    expect(queue.has('a')).toBe(true);
    expect(queue.has('b')).toBe(false);
    queue.close();
  });

  it('times a job from its first wait: taking it does not reset the clock, dropping it stops it', () => {
    vi.useFakeTimers();
    const fired: string[] = [];
    const queue = new JobQueue(1000, (id) => fired.push(id));
    queue.add('offered');
    queue.add('done');
    vi.advanceTimersByTime(600);
    queue.take('offered');
    queue.add('offered', true); // rejected and back: same clock
    queue.drop('done');
    vi.advanceTimersByTime(401);
    expect(fired).toEqual(['offered']);
    queue.rearm('offered');
    vi.advanceTimersByTime(999);
    expect(fired).toEqual(['offered']);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['offered', 'offered']);
    queue.close();
  });
});
