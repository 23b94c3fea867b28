// The client WebSocket protocol on /execute/ws: JSON text frames, each one schema here. Many jobs
// share one socket, each named by an id the client chooses.
import * as v from 'valibot';
import { FileSchema } from './job.js';
import { LimitsSchema } from './limits.js';
import { ExecuteResponseSchema } from './rest.js';

const clientId = v.pipe(v.string(), v.minLength(1), v.maxLength(64));

/** Signals a client may send to its program. */
export const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGKILL', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;
export const SignalSchema = v.picklist(SIGNALS);
export type Signal = (typeof SIGNALS)[number];

export const ClientExecuteFrame = v.strictObject({
  type: v.literal('execute'),
  id: clientId,
  lang: v.pipe(v.string(), v.minLength(1), v.maxLength(32)),
  code: v.pipe(v.string(), v.maxLength(512 * 1024)),
  stdin: v.optional(v.pipe(v.string(), v.maxLength(512 * 1024))),
  args: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(4096))), v.maxLength(64))),
  files: v.optional(v.pipe(v.array(FileSchema), v.maxLength(64))),
  limits: v.optional(LimitsSchema),
  compile_limits: v.optional(LimitsSchema),
  task_id: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128))),
  /** Keep the program's stdin open for `stdin` frames until `stdin_eof`. */
  interactive: v.optional(v.boolean(), false),
});

export const ClientStdinFrame = v.strictObject({
  type: v.literal('stdin'),
  id: clientId,
  data: v.pipe(v.string(), v.maxLength(64 * 1024)),
});
export const ClientStdinEofFrame = v.strictObject({ type: v.literal('stdin_eof'), id: clientId });
export const ClientSignalFrame = v.strictObject({
  type: v.literal('signal'),
  id: clientId,
  signal: SignalSchema,
});
export const ClientCancelFrame = v.strictObject({ type: v.literal('cancel'), id: clientId });

export const ClientToGatewayFrame = v.variant('type', [
  ClientExecuteFrame,
  ClientStdinFrame,
  ClientStdinEofFrame,
  ClientSignalFrame,
  ClientCancelFrame,
]);
export type ClientToGateway = v.InferOutput<typeof ClientToGatewayFrame>;

export const GatewayToClientFrame = v.variant('type', [
  /** The job is stored and queued. */
  v.object({ type: v.literal('accepted'), id: v.string(), job_id: v.string() }),
  /** A runner accepted it. */
  v.object({ type: v.literal('started'), id: v.string(), runner: v.string(), attempt: v.number() }),
  /** Output as the program produces it; seq counts both streams from 0 (gaps: dropped, see exit). */
  v.object({ type: v.literal('stdout'), id: v.string(), seq: v.number(), data: v.string() }),
  v.object({ type: v.literal('stderr'), id: v.string(), seq: v.number(), data: v.string() }),
  /** The job ended: the whole result, and how many live chunks the socket could not take. */
  v.object({
    type: v.literal('exit'),
    id: v.string(),
    result: ExecuteResponseSchema,
    dropped_chunks: v.number(),
  }),
  v.object({
    type: v.literal('error'),
    id: v.nullable(v.string()),
    code: v.string(),
    message: v.string(),
  }),
]);
export type GatewayToClient = v.InferOutput<typeof GatewayToClientFrame>;

/** Largest client frame, bytes (a job with its files fits; past it the socket closes with 1009). */
export const MAX_CLIENT_FRAME_BYTES = 1024 * 1024;
/** Jobs one socket may have unfinished at once. */
export const MAX_JOBS_PER_SOCKET = 16;
/** Past this many bytes waiting in a socket's send buffer, live chunks are dropped (exit still comes). */
export const CLIENT_HIGH_WATER_BYTES = 1024 * 1024;
/** Past this many, the socket is closed (1008): its jobs run on, their results stay in the store. */
export const CLIENT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
