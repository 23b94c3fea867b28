// Bus messages as bytes, for a bus that crosses processes (nats/nats-bus.ts): JSON, and valibot
// schemas that decode what comes back, since another process (or anything that can publish on
// the server) wrote it. A compile-time check keeps the schemas and the types in bus.ts the same.
import * as v from 'valibot';
import {
  ERROR_CODES,
  JobRecordSchema,
  OutputGapSchema,
  SIGNALS,
  StageResultSchema,
} from '../../shared/index.js';
import type { ControlMessage, JobMessage } from './bus.js';

const OutputEventSchema = v.object({
  stream: v.picklist(['stdout', 'stderr']),
  seq: v.number(),
  data: v.string(),
});

export const JobMessageSchema = v.variant('type', [
  v.object({ type: v.literal('started'), job: JobRecordSchema }),
  v.object({
    type: v.literal('stage'),
    stage: v.picklist(['compile', 'run']),
    compile: v.optional(StageResultSchema),
  }),
  v.object({ type: v.literal('output'), event: OutputEventSchema }),
  v.object({ type: v.literal('gap'), gap: OutputGapSchema }),
  v.object({ type: v.literal('end'), job: JobRecordSchema }),
]);

export const ControlMessageSchema = v.variant('type', [
  v.object({ type: v.literal('stdin'), data: v.string() }),
  v.object({ type: v.literal('stdin_eof') }),
  v.object({ type: v.literal('signal'), signal: v.picklist(SIGNALS) }),
  v.object({ type: v.literal('cancel') }),
]);

/** Input for a job held elsewhere: the job's id travels with it (a subject may only hash it). */
export const ControlRequestSchema = v.object({ job_id: v.string(), message: ControlMessageSchema });
export type ControlRequest = v.InferOutput<typeof ControlRequestSchema>;

/** The holder's answer: it took the input, or its handler refused it with an error code. */
export const ControlReplySchema = v.variant('type', [
  v.object({ type: v.literal('taken') }),
  v.object({ type: v.literal('refused'), code: v.picklist(ERROR_CODES), message: v.string() }),
]);
export type ControlReply = v.InferOutput<typeof ControlReplySchema>;

/** True when A and B are the same type; anything else fails to compile below. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
true satisfies Same<v.InferOutput<typeof JobMessageSchema>, JobMessage>;
true satisfies Same<v.InferOutput<typeof ControlMessageSchema>, ControlMessage>;

export function encode(message: JobMessage | ControlRequest | ControlReply): Uint8Array {
  return Buffer.from(JSON.stringify(message));
}

/** A decoded message, or why the bytes are not one (the caller logs it and drops them). */
export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

export function decode<S extends v.GenericSchema>(schema: S, bytes: Uint8Array): Decoded<v.InferOutput<S>> {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  const result = v.safeParse(schema, json);
  if (result.success) return { ok: true, value: result.output };
  const [issue] = result.issues;
  const path = issue.path?.map((item) => String(item.key)).join('.') || '(root)';
  return { ok: false, reason: `${path}: ${issue.message}` };
}
