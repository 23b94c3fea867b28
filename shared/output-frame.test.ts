import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { checkOutputFrame, outputCheckEnabled, shape } from './output-frame.js';
import { OutputFrame, RunnerToGatewayFrame } from './runner-protocol.js';

const good = { type: 'output', job_id: 'job-1', stream: 'stdout', seq: 0, data: 'hello\n' };

/** Values for each field: valid ones and every way we could think of to be wrong. */
const CANDIDATES: Record<string, unknown[]> = {
  type: ['output', 'Output', 'done', '', 1, null, undefined],
  job_id: [
    'a',
    'x'.repeat(128),
    'x'.repeat(129),
    '',
    '€'.repeat(128),
    '😀'.repeat(64), // 128 UTF-16 units
    '😀'.repeat(65), // 130
    1,
    null,
    undefined,
    ['a'],
  ],
  stream: ['stdout', 'stderr', 'both', 'STDOUT', '', null, undefined, 1],
  seq: [0, -0, 1, 2 ** 53, 1e300, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1', null, undefined, true],
  data: ['', 'x', '\u0000\n"\\', '€😀', 1, null, undefined, { a: 1 }],
};

/** Every combination of the candidates (about 64,000 frames), with absent fields left out. */
function* frames(): Generator<Record<string, unknown>> {
  const keys = Object.keys(CANDIDATES);
  const walk = function* (i: number, frame: Record<string, unknown>): Generator<Record<string, unknown>> {
    if (i === keys.length) {
      yield frame;
      return;
    }
    for (const value of CANDIDATES[keys[i]!]!) {
      const next = { ...frame };
      if (value !== undefined) next[keys[i]!] = value;
      yield* walk(i + 1, next);
    }
  };
  yield* walk(0, {});
}

describe('checkOutputFrame', () => {
  it('is on: OutputFrame is still the schema it was written for (if not, update the check)', () => {
    expect(outputCheckEnabled).toBe(true);
  });

  it('accepts exactly what the schema accepts, with the same output, or leaves it to the schema', () => {
    let accepted = 0;
    let refused = 0;
    for (const frame of frames()) {
      const fast = checkOutputFrame(frame);
      const full = v.safeParse(RunnerToGatewayFrame, frame);
      if (full.success && frame.type === 'output') {
        // A valid output frame: the check takes it, and gives what the schema gives.
        expect(fast, JSON.stringify(frame)).toStrictEqual(full.output);
        accepted++;
      } else {
        // A bad frame (or another type): never accepted here, so the schema's error is the answer.
        expect(fast, JSON.stringify(frame)).toBeUndefined();
        refused++;
      }
    }
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(10_000);
  });

  it('drops unknown fields as the schema does, and takes frames straight from JSON.parse', () => {
    const text =
      '{"seq":3,"data":"x","__proto__":{"seq":5},"type":"output","extra":1,"stream":"stderr","job_id":"j"}';
    const value = JSON.parse(text) as unknown;
    expect(checkOutputFrame(value)).toStrictEqual(v.parse(RunnerToGatewayFrame, value));
    expect(Object.keys(checkOutputFrame(value)!)).toEqual(['type', 'job_id', 'stream', 'seq', 'data']);
  });

  it.each([
    ['null', null],
    ['a string', 'output'],
    ['a number', 1],
    ['an array', []],
    ['an array of a frame', [good]],
    ['a frame without type', { ...good, type: undefined }],
  ])('leaves %s to the schema', (_name, value) => {
    expect(checkOutputFrame(value)).toBeUndefined();
  });

  it('notices a change of the schema (and would turn itself off)', () => {
    const changed = [
      { ...OutputFrame.entries, job_id: v.pipe(v.string(), v.minLength(1), v.maxLength(64)) },
      { ...OutputFrame.entries, seq: v.pipe(v.number(), v.minValue(0)) },
      { ...OutputFrame.entries, stream: v.picklist(['stdout', 'stderr', 'stdin']) },
      { ...OutputFrame.entries, stage: v.optional(v.string()) },
    ];
    for (const entries of changed) expect(shape(entries)).not.toBe(shape(OutputFrame.entries));
  });
});
