// The output log on plain data: numbering across attempts, gaps for chunks the runner's link lost,
// replays after any seq, and the memory bounds (trimming, eviction) always reported as gaps.
import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../shared/index.js';
import { ATTEMPT_SPAN, type OutputEntry, OutputLogs, outputSeq } from './output-log.js';
import { replayFor } from './output-replay.js';

const big = { maxJobBytes: 1 << 20, maxBytes: 1 << 24 };
const chunk = (seq: number, data: string, stream: 'stdout' | 'stderr' = 'stdout') => ({ stream, seq, data });
const text = (entries: OutputEntry[] | null) =>
  (entries ?? []).map((e) =>
    e.kind === 'chunk'
      ? `${e.event.seq}:${e.event.data}`
      : `gap(${e.gap.from_seq}-${e.gap.to_seq},${e.gap.reason})`,
  );

describe('OutputLogs', () => {
  it('numbers chunks from 0 in the first attempt and from (attempt-1)·2^32 after', () => {
    expect(outputSeq(1, 0)).toBe(0);
    expect(outputSeq(1, 7)).toBe(7);
    expect(outputSeq(2, 0)).toBe(ATTEMPT_SPAN);
    expect(outputSeq(0, 3)).toBe(3);
  });

  it('replays exactly the chunks after the seq asked for, across both streams', () => {
    const logs = new OutputLogs(big);
    logs.begin('j', 1);
    logs.append('j', 1, chunk(0, 'a'));
    logs.append('j', 1, chunk(1, 'b', 'stderr'));
    logs.append('j', 1, chunk(2, 'c'));
    expect(text(logs.replay('j', -1))).toEqual(['0:a', '1:b', '2:c']);
    expect(text(logs.replay('j', 0))).toEqual(['1:b', '2:c']);
    expect(text(logs.replay('j', 2))).toEqual([]);
    expect(text(logs.replay('j', 99))).toEqual([]);
    expect(logs.nextSeq('j')).toBe(3);
  });

  it('ignores a repeated chunk, and records a gap where the runner skipped numbers', () => {
    const logs = new OutputLogs(big);
    logs.begin('j', 1);
    expect(text(logs.append('j', 1, chunk(0, 'a')))).toEqual(['0:a']);
    expect(text(logs.append('j', 1, chunk(0, 'a')))).toEqual([]);
    expect(text(logs.append('j', 1, chunk(3, 'd')))).toEqual(['gap(1-2,not_received)', '3:d']);
    expect(text(logs.replay('j', -1))).toEqual(['0:a', 'gap(1-2,not_received)', '3:d']);
    // A replay from inside the gap gets the rest of it.
    expect(text(logs.replay('j', 1))).toEqual(['gap(2-2,not_received)', '3:d']);
    expect(text(logs.replay('j', 2))).toEqual(['3:d']);
  });

  it("keeps a retry's chunks after the previous attempt's", () => {
    const logs = new OutputLogs(big);
    logs.begin('j', 1);
    logs.append('j', 1, chunk(0, 'first'));
    logs.begin('j', 2);
    logs.append('j', 2, chunk(0, 'second'));
    expect(text(logs.replay('j', 0))).toEqual([`${ATTEMPT_SPAN}:second`]);
    expect(text(logs.replay('j', -1))).toEqual(['0:first', `${ATTEMPT_SPAN}:second`]);
  });

  it('says what it never held: a log that began mid-way (a restart) starts with a gap', () => {
    const logs = new OutputLogs(big);
    logs.append('j', 1, chunk(5, 'f'));
    expect(text(logs.replay('j', -1))).toEqual(['gap(0-4,not_retained)', '5:f']);
    expect(text(logs.replay('j', 4))).toEqual(['5:f']);
    // An attempt that began here after one that did not: the earlier attempt is not held.
    const other = new OutputLogs(big);
    other.begin('k', 2);
    other.append('k', 2, chunk(0, 'x'));
    expect(text(other.replay('k', 10))).toEqual([
      `gap(11-${ATTEMPT_SPAN - 1},not_retained)`,
      `${ATTEMPT_SPAN}:x`,
    ]);
  });

  it('trims a job past its own bound from the oldest, and a replay says so', () => {
    const logs = new OutputLogs({ maxJobBytes: 10, maxBytes: 1000 });
    logs.begin('j', 1);
    for (let i = 0; i < 5; i++) logs.append('j', 1, chunk(i, 'xxxx'));
    expect(logs.bytes).toBeLessThanOrEqual(10);
    expect(text(logs.replay('j', -1))).toEqual(['gap(0-2,not_retained)', '3:xxxx', '4:xxxx']);
    expect(text(logs.replay('j', 3))).toEqual(['4:xxxx']);
  });

  it('evicts finished logs first, oldest finished first, and remembers where they ended', () => {
    const logs = new OutputLogs({ maxJobBytes: 100, maxBytes: 25 });
    for (const id of ['a', 'b']) {
      logs.begin(id, 1);
      logs.append(id, 1, chunk(0, '0123456789'));
    }
    logs.finished('b');
    logs.finished('a');
    logs.begin('c', 1);
    logs.append('c', 1, chunk(0, '0123456789'));
    // b finished first and went first; a and the running c fit.
    expect(text(logs.replay('b', -1))).toEqual(['gap(0-0,not_retained)']);
    expect(text(logs.replay('b', 0))).toEqual([]);
    expect(text(logs.replay('a', -1))).toEqual(['0:0123456789']);
    expect(logs.bytes).toBeLessThanOrEqual(25);
  });

  it('trims running logs, the largest first, when they alone pass the bound', () => {
    const logs = new OutputLogs({ maxJobBytes: 100, maxBytes: 30 });
    logs.begin('big', 1);
    logs.begin('small', 1);
    logs.append('small', 1, chunk(0, 'sssss'));
    for (let i = 0; i < 4; i++) logs.append('big', 1, chunk(i, '0123456789'));
    expect(logs.bytes).toBeLessThanOrEqual(30);
    expect(text(logs.replay('small', -1))).toEqual(['0:sssss']);
    expect(text(logs.replay('big', -1))[0]).toMatch(/^gap\(0-\d,not_retained\)$/);
  });

  it('forgets a job entirely', () => {
    const logs = new OutputLogs(big);
    logs.begin('j', 1);
    logs.append('j', 1, chunk(0, 'a'));
    logs.forget('j');
    expect(logs.replay('j', -1)).toBeNull();
    expect(logs.bytes).toBe(0);
  });
});

describe('replayFor', () => {
  const job = (patch: Partial<JobRecord>) =>
    ({ id: 'j', status: 'done', attempt: 1, stdout: '', stderr: '', compile: null, ...patch }) as JobRecord;

  it('uses the log when there is one', () => {
    const logs = new OutputLogs(big);
    logs.begin('j', 1);
    logs.append('j', 1, chunk(0, 'a'));
    expect(text(replayFor(logs, job({}), -1))).toEqual(['0:a']);
  });

  it('without a log, reports a gap of unknown length only when output may exist', () => {
    const logs = new OutputLogs(big);
    expect(text(replayFor(logs, job({ stdout: 'hi' }), 3))).toEqual(['gap(4-null,not_retained)']);
    expect(text(replayFor(logs, job({}), 3))).toEqual([]);
    expect(text(replayFor(logs, job({ status: 'running', attempt: 1 }), -1))).toEqual([
      'gap(0-null,not_retained)',
    ]);
    expect(text(replayFor(logs, job({ status: 'queued', attempt: 0 }), -1))).toEqual([]);
  });
});
