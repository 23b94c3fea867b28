// The scheduler on plain data: no sockets, no Docker, no timers. Each case builds a queue and a
// set of runners and asserts on the plan (which job goes to which runner) or on a verdict.

import { describe, expect, it } from 'vitest';
import { schedRunner } from './sched-fixtures.js';
import {
  afterRunnerLost,
  canEverRun,
  pickRunner,
  plan,
  type SchedJob,
  type SchedRunner,
  waitVerdict,
} from './scheduler.js';

let seq = 0;
function job(over: Partial<SchedJob> = {}): SchedJob {
  seq++;
  return {
    id: over.id ?? `j${seq}`,
    lang: 'python',
    labels: [],
    client: null,
    attempt: 0,
    requeued: false,
    refusedBy: [],
    trust: 'any',
    ...over,
  };
}

const runner = schedRunner;

const pairs = (offers: { jobId: string; runnerId: string }[]) =>
  offers.map((o) => `${o.jobId}>${o.runnerId}`);

describe('plan', () => {
  it('offers jobs in queue order while slots are free', () => {
    const queue = [job({ id: 'a' }), job({ id: 'b' }), job({ id: 'c' })];
    expect(pairs(plan({ queue, runners: [runner({ slots: 2 })] }))).toEqual(['a>r1', 'b>r1']);
  });

  it('offers nothing when every slot is taken, or no runner accepts', () => {
    const queue = [job()];
    expect(plan({ queue, runners: [runner({ slots: 2, load: 2 })] })).toEqual([]);
    expect(plan({ queue, runners: [runner({ accepting: false })] })).toEqual([]);
    expect(plan({ queue, runners: [] })).toEqual([]);
  });

  it.each<[string, Partial<SchedRunner>, Partial<SchedJob>]>([
    ['a runner without the language', { languages: ['go'] }, {}],
    ['a runner only building the language', { languages: [], building: ['python'] }, {}],
    ['a runner without the labels', { labels: ['gpu'] }, { labels: ['arm'] }],
  ])('never uses %s', (_name, over, jobOver) => {
    expect(plan({ queue: [job(jobOver)], runners: [runner(over)] })).toEqual([]);
  });

  it('needs every label the job asks for, and ignores extra runner labels', () => {
    const runners = [
      runner({ id: 'plain' }),
      runner({ id: 'gpu', labels: ['gpu'] }),
      runner({ id: 'both', labels: ['gpu', 'big'] }),
    ];
    expect(pairs(plan({ queue: [job({ id: 'x', labels: ['gpu', 'big'] })], runners }))).toEqual(['x>both']);
    // gpu and both qualify (plain does not); equal load, so the smaller id.
    expect(pairs(plan({ queue: [job({ id: 'y', labels: ['gpu'] })], runners }))).toEqual(['y>both']);
    expect(pairs(plan({ queue: [job({ id: 'z', labels: ['gpu'] })], runners: runners.slice(0, 2) }))).toEqual(
      ['z>gpu'],
    );
  });

  it('picks the least-loaded runner by load per slot, and breaks ties by free slots then id', () => {
    const runners = [
      runner({ id: 'half', slots: 4, load: 2 }),
      runner({ id: 'quarter', slots: 4, load: 1 }),
      runner({ id: 'busy', slots: 1, load: 0 }),
    ];
    // busy: 0/1 = 0 is least loaded.
    expect(pairs(plan({ queue: [job({ id: 'a' })], runners }))).toEqual(['a>busy']);
    const tie = [runner({ id: 'b', slots: 2, load: 1 }), runner({ id: 'a', slots: 4, load: 2 })];
    // Both at 0.5: the one with more free slots wins.
    expect(pairs(plan({ queue: [job({ id: 'j' })], runners: tie }))).toEqual(['j>a']);
    const same = [runner({ id: 'z' }), runner({ id: 'm' })];
    expect(pairs(plan({ queue: [job({ id: 'j' })], runners: same }))).toEqual(['j>m']);
  });

  it('spreads a burst across runners as their load grows', () => {
    const queue = ['a', 'b', 'c', 'd'].map((id) => job({ id }));
    const runners = [runner({ id: 'r1', slots: 2 }), runner({ id: 'r2', slots: 2 })];
    expect(pairs(plan({ queue, runners }))).toEqual(['a>r1', 'b>r2', 'c>r1', 'd>r2']);
  });

  it('skips a runner that refused the job, and offers it to another', () => {
    const runners = [runner({ id: 'r1' }), runner({ id: 'r2', load: 1 })];
    expect(pairs(plan({ queue: [job({ id: 'a', refusedBy: ['r1'] })], runners }))).toEqual(['a>r2']);
    expect(plan({ queue: [job({ refusedBy: ['r1', 'r2'] })], runners })).toEqual([]);
  });

  it('does not let a job that cannot be placed block the ones behind it', () => {
    const queue = [job({ id: 'go', lang: 'go' }), job({ id: 'py' })];
    expect(pairs(plan({ queue, runners: [runner()] }))).toEqual(['py>r1']);
  });

  it('keeps donors away from jobs that ask for trusted runners', () => {
    const runners = [runner({ id: 'donor', tier: 'donor' })];
    expect(plan({ queue: [job({ trust: 'trusted' })], runners })).toEqual([]);
    expect(pairs(plan({ queue: [job({ id: 'a', trust: 'any' })], runners }))).toEqual(['a>donor']);
  });

  it('gives re-queued jobs their place at the front, whoever submitted them', () => {
    const queue = [
      job({ id: 'a1', client: 'a' }),
      job({ id: 'b1', client: 'b' }),
      job({ id: 'back', client: 'a', requeued: true }),
    ];
    expect(pairs(plan({ queue, runners: [runner({ slots: 1 })] }))).toEqual(['back>r1']);
  });

  describe('fair share between clients', () => {
    it('one key with 1000 queued does not starve another key’s single job', () => {
      const queue = [
        ...Array.from({ length: 1000 }, (_, i) => job({ id: `a${i}`, client: 'key:a' })),
        job({ id: 'b0', client: 'key:b' }),
      ];
      // One free slot; key a already runs one job, key b none: b goes first.
      const offers = plan({
        queue,
        runners: [runner({ slots: 2, load: 1 })],
        running: new Map([['key:a', 1]]),
      });
      expect(pairs(offers)).toEqual(['b0>r1']);
    });

    it('alternates between keys with equal running counts, oldest first', () => {
      const queue = [
        job({ id: 'a0', client: 'a' }),
        job({ id: 'a1', client: 'a' }),
        job({ id: 'a2', client: 'a' }),
        job({ id: 'b0', client: 'b' }),
        job({ id: 'b1', client: 'b' }),
      ];
      expect(pairs(plan({ queue, runners: [runner({ slots: 4 })] }))).toEqual([
        'a0>r1',
        'b0>r1',
        'a1>r1',
        'b1>r1',
      ]);
    });

    it('serves the key served least recently when running counts tie, so one slot alternates', () => {
      const queue = [
        job({ id: 'a1', client: 'a' }),
        job({ id: 'a2', client: 'a' }),
        job({ id: 'b0', client: 'b' }),
      ];
      const runners = [runner({ slots: 1 })];
      // a was just served (its previous job ended): b goes next although a's head is older.
      expect(pairs(plan({ queue, runners, lastServed: new Map([['a', 7]]) }))).toEqual(['b0>r1']);
      expect(
        pairs(
          plan({
            queue,
            runners,
            lastServed: new Map([
              ['a', 7],
              ['b', 8],
            ]),
          }),
        ),
      ).toEqual(['a1>r1']);
    });

    it('keeps each key’s own order', () => {
      const queue = [
        job({ id: 'a0', client: 'a' }),
        job({ id: 'b0', client: 'b' }),
        job({ id: 'a1', client: 'a' }),
      ];
      const order = pairs(plan({ queue, runners: [runner({ slots: 3 })] }));
      expect(order.indexOf('a0>r1')).toBeLessThan(order.indexOf('a1>r1'));
    });

    it('plans a large backlog quickly', () => {
      const queue = Array.from({ length: 10_000 }, (_, i) =>
        job({ client: `k${i % 50}`, lang: i % 2 ? 'go' : 'python' }),
      );
      const runners = Array.from({ length: 20 }, (_, i) => runner({ id: `r${i}`, slots: 8 }));
      const started = performance.now();
      const offers = plan({ queue, runners });
      // 20 runners × 8 slots, filled with python jobs only (nobody offers go); go jobs are skipped
      // after the first one fails to place, not tried 5000 times.
      expect(offers).toHaveLength(160);
      const byId = new Map(queue.map((j) => [j.id, j]));
      expect(offers.every((o) => byId.get(o.jobId)?.lang === 'python')).toBe(true);
      expect(performance.now() - started).toBeLessThan(250);
    });
  });
});

describe('pickRunner', () => {
  it('is the runner a session would be placed on', () => {
    const runners = [runner({ id: 'r1', load: 1 }), runner({ id: 'r2' })];
    expect(pickRunner(runners, { lang: 'python', labels: [], refusedBy: [], trust: 'any' })?.id).toBe('r2');
    expect(pickRunner(runners, { lang: 'python', labels: [], refusedBy: ['r2'], trust: 'any' })?.id).toBe(
      'r1',
    );
    expect(pickRunner(runners, { lang: 'go', labels: [], refusedBy: [], trust: 'any' })).toBeUndefined();
  });
});

describe('canEverRun', () => {
  it.each<[string, Partial<SchedRunner>[], Partial<SchedJob>, ReturnType<typeof canEverRun>]>([
    ['a runner with the language', [{}], {}, 'yes'],
    ['a busy runner with the language', [{ load: 2 }], {}, 'yes'],
    ['a paused runner with the language', [{ accepting: false }], {}, 'yes'],
    ['a draining runner only', [{ accepting: false, draining: true }], {}, 'no'],
    ['no runner', [], {}, 'no'],
    ['a runner building the language', [{ languages: [], building: ['python'] }], {}, 'building'],
    ['a runner with another language', [{ languages: ['go'] }], {}, 'no'],
    ['a runner without the labels', [{}], { labels: ['gpu'] }, 'no'],
    ['only a runner that refused it', [{}], { refusedBy: ['r1'] }, 'no'],
    ['only a donor, for a trusted job', [{ tier: 'donor' }], { trust: 'trusted' }, 'no'],
  ])('%s', (_name, runners, over, expected) => {
    expect(
      canEverRun(
        job(over),
        runners.map((r) => runner(r)),
      ),
    ).toBe(expected);
  });
});

describe('waitVerdict (a job has waited a whole queue timeout)', () => {
  const timeoutMs = 30_000;
  it('keeps waiting while a runner that could run it is busy or building', () => {
    expect(waitVerdict(job(), [runner({ load: 2 })], timeoutMs)).toEqual({ wait: true, because: 'busy' });
    expect(waitVerdict(job(), [runner({ languages: [], building: ['python'] })], timeoutMs)).toEqual({
      wait: true,
      because: 'building',
    });
  });

  it.each<[string, Partial<SchedJob>, string]>([
    ['nobody offers the language', {}, 'no_runner'],
    ['its runner went away and nobody else took it', { attempt: 1 }, 'runner_lost'],
    ['every runner refused it', { refusedBy: ['r9'] }, 'runner_rejected'],
  ])('fails when %s', (_name, over, code) => {
    const verdict = waitVerdict(job(over), [runner({ languages: ['go'] })], timeoutMs);
    expect(verdict).toMatchObject({ wait: false, error: { code } });
    if (!verdict.wait) expect(verdict.error.message).toMatch(/\S/);
  });

  it('names the labels it asked for', () => {
    const verdict = waitVerdict(job({ labels: ['gpu'] }), [], timeoutMs);
    expect(verdict).toMatchObject({ wait: false, error: { message: expect.stringContaining('gpu') } });
  });
});

describe('afterRunnerLost (requeue with attempt limits)', () => {
  it.each<[string, Partial<{ attempt: number; interactive: boolean; session: boolean }>, string]>([
    ['first attempt', { attempt: 1 }, 'requeue'],
    ['second of three', { attempt: 2 }, 'requeue'],
    ['the last attempt', { attempt: 3 }, 'fail'],
    ['an interactive job (its input cannot be replayed)', { attempt: 1, interactive: true }, 'fail'],
    ['a session execution (its sandbox is gone)', { attempt: 1, session: true }, 'fail'],
  ])('%s → %s', (_name, over, expected) => {
    const verdict = afterRunnerLost(
      {
        attempt: over.attempt ?? 1,
        interactive: over.interactive ?? false,
        session_id: over.session ? 's' : null,
      },
      3,
    );
    expect(verdict).toBe(expected);
  });
});

describe('tiers, identities and standing', () => {
  it('never plans a trusted job on a donor', () => {
    const offers = plan({
      queue: [job({ id: 'secret', trust: 'trusted' }), job({ id: 'open' })],
      runners: [runner({ id: 'donor', tier: 'donor' })],
    });
    expect(pairs(offers)).toEqual(['open>donor']);
  });

  it('places the replicas of one group on different identities in one pass', () => {
    const offers = plan({
      queue: [job({ id: 'r1', group: 'g' }), job({ id: 'r2', group: 'g' }), job({ id: 'r3', group: 'g' })],
      runners: [
        runner({ id: 'a1', tier: 'donor', identity: 'donor:a', slots: 4 }),
        runner({ id: 'a2', tier: 'donor', identity: 'donor:a', slots: 4 }),
        runner({ id: 'b', tier: 'donor', identity: 'donor:b', slots: 4 }),
      ],
    });
    // Two identities: only two of the three replicas can be placed now.
    expect(offers).toHaveLength(2);
    const runnersUsed = offers.map((o) => o.runnerId);
    expect(runnersUsed).toContain('b');
    expect(runnersUsed.filter((id) => id.startsWith('a'))).toHaveLength(1);
  });

  it('avoids identities a sibling already ran on', () => {
    const offers = plan({
      queue: [job({ id: 'again', group: 'g', avoid: ['donor:a'] })],
      runners: [runner({ id: 'a', identity: 'donor:a' }), runner({ id: 'b', identity: 'donor:b', load: 1 })],
    });
    expect(pairs(offers)).toEqual(['again>b']);
  });

  it('offers a doubtful runner work only when no runner in good standing can take it', () => {
    const runners = [runner({ id: 'liar', standing: 'doubtful' }), runner({ id: 'honest', load: 1 })];
    expect(pairs(plan({ queue: [job({ id: 'x' })], runners }))).toEqual(['x>honest']);
    expect(pairs(plan({ queue: [job({ id: 'x' }), job({ id: 'y' })], runners }))).toEqual([
      'x>honest',
      'y>liar',
    ]);
  });

  it('says why a replica cannot be placed', () => {
    const verdict = waitVerdict(
      { ...job({ avoid: ['donor:a'] }), attempt: 0 },
      [runner({ id: 'a', identity: 'donor:a' })],
      1_000,
    );
    expect(verdict).toMatchObject({ wait: false, error: { code: 'no_runner' } });
    if (!verdict.wait) expect(verdict.error.message).toMatch(/different identities/);
  });
});
