import { describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.js';

/** A GroupCommit over an in-memory "file": each append waits until the test releases it. */
function harness(failOn?: number) {
  const appends: string[] = [];
  const events: string[] = [];
  const releases: (() => void)[] = [];
  let appended: () => void = () => {};
  const commits = new GroupCommit({
    append: (text) => {
      appends.push(text);
      appended();
      const n = appends.length;
      return new Promise<void>((resolve, reject) =>
        releases.push(() => (n === failOn ? reject(new Error('ENOSPC')) : resolve())),
      );
    },
    between: async () => {
      events.push(`between ${appends.length}`);
    },
    failure: (err) => new Error(`stopped: ${err.message}`),
  });
  /** Resolves when the next append has started. */
  const nextAppend = () => new Promise<void>((resolve) => (appended = resolve));
  const release = () => releases.shift()!();
  return { commits, appends, events, nextAppend, release };
}

describe('GroupCommit', () => {
  it('appends the lines of one turn in one write, in order, and those added meanwhile in the next', async () => {
    const h = harness();
    const started = h.nextAppend();
    const first = [h.commits.add('a\n'), h.commits.add('b\n')];
    expect(first[0]).toBe(first[1]); // one batch, one promise
    await started;
    const second = h.nextAppend();
    const later = [h.commits.add('c\n'), h.commits.add('d\n')];
    h.release();
    await Promise.all(first);
    await second;
    h.release();
    await Promise.all(later);
    expect(h.appends).toEqual(['a\nb\n', 'c\nd\n']);
    expect(h.events).toEqual(['between 1', 'between 2']);
    expect(h.commits.counts).toEqual({ batches: 2, lines: 4 });
    await h.commits.flush();
  });

  it('stops at a failed append: that batch and the one gathered meanwhile reject, nothing more is written', async () => {
    const h = harness(1);
    const started = h.nextAppend();
    const failed = h.commits.add('a\n');
    await started;
    const gathered = h.commits.add('b\n');
    h.release();
    await expect(failed).rejects.toThrow('stopped: ENOSPC');
    await expect(gathered).rejects.toThrow('stopped: ENOSPC');
    await expect(h.commits.flush()).rejects.toThrow('stopped: ENOSPC');
    await h.commits.idle();
    expect(h.commits.failure?.message).toBe('stopped: ENOSPC');
    expect(h.appends).toEqual(['a\n']);
    expect(h.events).toEqual([]);
  });
});
