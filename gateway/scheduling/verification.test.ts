import { describe, expect, it } from 'vitest';
import { nextStep, type ReplicaView, resultKey } from './verification.js';

const running = (jobId: string): ReplicaView => ({ jobId, outcome: { kind: 'running' } });
const result = (jobId: string, key: string): ReplicaView => ({ jobId, outcome: { kind: 'result', key } });
const error = (jobId: string, code = 'runner_lost'): ReplicaView => ({
  jobId,
  outcome: { kind: 'error', code, message: `${code} happened` },
});

describe('nextStep', () => {
  it('starts quorum replicas for a new job', () => {
    expect(nextStep(2, 4, [])).toEqual({ kind: 'more', count: 2, preferTrusted: false });
    expect(nextStep(3, 5, [])).toEqual({ kind: 'more', count: 3, preferTrusted: false });
  });

  it('waits while the replicas in flight could still reach the quorum', () => {
    expect(nextStep(2, 4, [running('a'), running('b')])).toEqual({ kind: 'wait' });
    expect(nextStep(2, 4, [result('a', 'x'), running('b')])).toEqual({ kind: 'wait' });
  });

  it('accepts the first group of quorum equal results', () => {
    expect(nextStep(2, 4, [result('a', 'x'), result('b', 'x')])).toEqual({
      kind: 'accept',
      winner: 'a',
      agreed: ['a', 'b'],
      disagreed: [],
    });
  });

  it('a quorum of 1 accepts the only result', () => {
    expect(nextStep(1, 3, [result('a', 'x')])).toMatchObject({ kind: 'accept', winner: 'a' });
  });

  it('a disagreement sends one more replica, preferring a trusted runner', () => {
    expect(nextStep(2, 4, [result('a', 'x'), result('b', 'y')])).toEqual({
      kind: 'more',
      count: 1,
      preferTrusted: true,
    });
  });

  it('the tie-breaker that agrees with one side outvotes the other', () => {
    expect(nextStep(2, 4, [result('a', 'x'), result('b', 'y'), result('c', 'y')])).toEqual({
      kind: 'accept',
      winner: 'b',
      agreed: ['b', 'c'],
      disagreed: ['a'],
    });
  });

  it('fails unverified once no group can reach the quorum within the cap', () => {
    const step = nextStep(2, 3, [result('a', 'x'), result('b', 'y'), result('c', 'z')]);
    expect(step.kind).toBe('fail');
    if (step.kind === 'fail') {
      expect(step.error.code).toBe('unverified');
      expect(step.error.message).toMatch(/No 2 replicas agreed within 3: 3 results in 3 different groups/);
    }
  });

  it('fails early when even the allowed replicas could not reach the quorum', () => {
    // quorum 3, cap 4: x, y, z leave one replica, and no group has 2.
    expect(nextStep(3, 4, [result('a', 'x'), result('b', 'y'), result('c', 'z')]).kind).toBe('fail');
  });

  it('a replica lost without a result is replaced, on a trusted runner when possible', () => {
    expect(nextStep(2, 4, [result('a', 'x'), error('b')])).toEqual({
      kind: 'more',
      count: 1,
      preferTrusted: true,
    });
    const step = nextStep(2, 2, [result('a', 'x'), error('b')]);
    expect(step).toMatchObject({ kind: 'fail', error: { code: 'unverified' } });
    if (step.kind === 'fail') expect(step.error.message).toMatch(/1 replicas without a result/);
  });

  it('a replica no runner could take fails the job with that error', () => {
    expect(nextStep(2, 4, [result('a', 'x'), error('b', 'no_runner')])).toEqual({
      kind: 'fail',
      error: { code: 'no_runner', message: 'no_runner happened' },
      disagreed: [],
    });
  });
});

describe('resultKey', () => {
  const base = {
    status: 'done' as const,
    exit_code: 0,
    signal: null,
    reason: 'exited' as const,
    stdout: 'hi\n',
    stderr: '',
    output_files: [],
    compile: null,
  };

  it('is equal for equal results whatever their timings', () => {
    expect(resultKey(base)).toBe(resultKey({ ...base }));
    const withCompile = (wall_ms: number) => ({
      ...base,
      compile: {
        stdout: '',
        stderr: '',
        output: '',
        exit_code: 0,
        signal: null,
        reason: 'exited' as const,
        wall_ms,
        truncated: false,
      },
    });
    expect(resultKey(withCompile(10))).toBe(resultKey(withCompile(900)));
  });

  it('differs when stdout, stderr, the exit code or a file differs', () => {
    const key = resultKey(base);
    expect(resultKey({ ...base, stdout: 'ho\n' })).not.toBe(key);
    expect(resultKey({ ...base, stderr: 'x' })).not.toBe(key);
    expect(resultKey({ ...base, exit_code: 1 })).not.toBe(key);
    const file = { name: 'a.txt', content: 'YQ==', size: 1, truncated: false };
    expect(resultKey({ ...base, output_files: [file] })).not.toBe(key);
    expect(resultKey({ ...base, output_files: [{ ...file, content: 'Yg==' }] })).not.toBe(
      resultKey({ ...base, output_files: [file] }),
    );
  });
});
