// The runner's `output` frame is most of the traffic on /runners/connect (one per chunk): this
// checks it by hand, much cheaper than valibot's variant parse, with the same result. It only ever
// accepts: a value it does not accept (any other frame, any bad output frame) goes to the full
// parse, which accepts it or gives the error, so the accepted set and the errors stay valibot's.
import type * as v from 'valibot';
import { OutputFrame } from './runner-protocol.js';

export type OutputFrameValue = v.InferOutput<typeof OutputFrame>;

/**
 * What this check knows of OutputFrame: each field's schema and pipe, as `shape` describes them.
 * If the schema changes (a field, a type, a limit), the check turns itself off and every frame
 * takes the full parse, rather than accept a different set; shared/output-frame.test.ts says so
 * and compares the two on good and bad frames.
 */
const KNOWN_SHAPE = JSON.stringify({
  type: [['literal', 'output']],
  job_id: [['string'], ['min_length', 1], ['max_length', 128]],
  stream: [['picklist', ['stdout', 'stderr']]],
  seq: [['number'], ['integer', 'fn'], ['min_value', 0]],
  data: [['string']],
});

interface SchemaItem {
  type: string;
  literal?: unknown;
  options?: unknown;
  requirement?: unknown;
  pipe?: SchemaItem[];
}

/** A schema object's fields, each as its pipe's items: [type, literal/options/requirement]. */
export function shape(entries: Record<string, unknown>): string {
  const describe = (item: SchemaItem): unknown[] => {
    const detail = item.literal ?? item.options ?? item.requirement;
    if (detail === undefined) return [item.type];
    return [item.type, typeof detail === 'function' ? 'fn' : detail];
  };
  const out: Record<string, unknown[][]> = {};
  for (const [key, schema] of Object.entries(entries)) {
    const item = schema as SchemaItem;
    out[key] = (item.pipe ?? [item]).map(describe);
  }
  return JSON.stringify(out);
}

/** Whether OutputFrame is still the schema this check was written for. */
export const outputCheckEnabled =
  // A plain object schema: unknown keys are dropped, not refused (a strict one would refuse them).
  OutputFrame.type === 'object' && shape(OutputFrame.entries) === KNOWN_SHAPE;

/**
 * `value` (from JSON.parse) as a valid output frame, exactly as `v.parse(RunnerToGatewayFrame,
 * value)` would give it (a new object, known fields only, in the schema's order); undefined when
 * it is anything else, valid or not: then the caller parses it with the schema.
 */
export function checkOutputFrame(value: unknown): OutputFrameValue | undefined {
  if (!outputCheckEnabled || typeof value !== 'object' || value === null) return undefined;
  const frame = value as Record<string, unknown>;
  if (frame.type !== 'output') return undefined;
  const { job_id, stream, seq, data } = frame;
  // job_id: string, 1..128 UTF-16 units (valibot's minLength/maxLength count `length`).
  if (typeof job_id !== 'string' || job_id.length < 1 || job_id.length > 128) return undefined;
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  // seq: a number, an integer, ≥ 0 (JSON has no NaN; Number.isInteger is valibot's integer()).
  if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0) return undefined;
  if (typeof data !== 'string') return undefined;
  return { type: 'output', job_id, stream, seq, data };
}
