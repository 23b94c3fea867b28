// Piston v2 compatibility: its request and frame shapes, so existing Piston clients work unchanged.
// https://github.com/engineer-man/piston (api/v2) is the reference for field names and meanings.
import * as v from 'valibot';

const PistonFileSchema = v.object({
  name: v.optional(v.pipe(v.string(), v.maxLength(255))),
  content: v.string(),
  encoding: v.optional(v.picklist(['utf8', 'base64', 'hex']), 'utf8'),
});

/** Piston's limits: milliseconds and bytes, -1 meaning "the server's default". */
const limit = v.optional(v.pipe(v.number(), v.integer(), v.minValue(-1)));

/** POST /api/v2/execute, and the `init` frame of /api/v2/connect (less `type`). */
export const PistonExecuteSchema = v.object({
  language: v.pipe(v.string(), v.minLength(1), v.maxLength(32)),
  version: v.optional(v.pipe(v.string(), v.maxLength(32)), '*'),
  files: v.pipe(v.array(PistonFileSchema), v.minLength(1), v.maxLength(64)),
  stdin: v.optional(v.pipe(v.string(), v.maxLength(512 * 1024)), ''),
  args: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(4096))), v.maxLength(64)), []),
  compile_timeout: limit,
  run_timeout: limit,
  compile_cpu_time: limit,
  run_cpu_time: limit,
  compile_memory_limit: limit,
  run_memory_limit: limit,
});
export type PistonExecute = v.InferOutput<typeof PistonExecuteSchema>;

export const PistonInitFrame = v.object({ type: v.literal('init'), ...PistonExecuteSchema.entries });
/** Only `stdin` may be written; another stream closes the socket with 4004, as Piston does. */
export const PistonDataFrame = v.object({
  type: v.literal('data'),
  stream: v.string(),
  data: v.string(),
});
export const PistonSignalFrame = v.object({ type: v.literal('signal'), signal: v.string() });
/** Our extension: the end of stdin (Piston has no way to say it). */
export const PistonEofFrame = v.object({ type: v.literal('eof') });
export const PistonClientFrame = v.variant('type', [
  PistonInitFrame,
  PistonDataFrame,
  PistonSignalFrame,
  PistonEofFrame,
]);
export type PistonClientMessage = v.InferOutput<typeof PistonClientFrame>;

/** Piston's close codes on /api/v2/connect. */
export const PISTON_CLOSE = {
  already_initialized: 4000,
  init_timeout: 4001,
  notified_error: 4002,
  not_initialized: 4003,
  only_stdin: 4004,
  invalid_signal: 4005,
  job_completed: 4999,
} as const;
