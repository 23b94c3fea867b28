// Per-job resource limits: what a request may ask for, the defaults, and the hard maximums.
// The runner re-checks every number against its own maximums; it never trusts the gateway's.
import * as v from 'valibot';

const int = (min: number) => v.pipe(v.number(), v.integer(), v.minValue(min));

export const LimitsSchema = v.strictObject({
  /** Wall-clock time of the run stage, milliseconds. */
  wall_time_ms: v.optional(int(1)),
  /** CPU time of the run stage, milliseconds (enforced as RLIMIT_CPU, whole seconds, rounded up). */
  cpu_time_ms: v.optional(int(1)),
  /** Memory of the whole sandbox, bytes; swap is not allowed on top. */
  memory_bytes: v.optional(int(16 * 1024 * 1024)),
  /** Processes and threads in the sandbox. */
  pids: v.optional(int(8)),
  /** Bytes kept per output stream; past it the sandbox is killed with reason output_limit. */
  output_bytes: v.optional(int(1)),
  /** Largest file the program may write, bytes. */
  file_size_bytes: v.optional(int(1)),
  /** Open file descriptors. */
  open_files: v.optional(int(16)),
});
export type LimitsInput = v.InferOutput<typeof LimitsSchema>;
export type Limits = Required<LimitsInput>;

export const DEFAULT_LIMITS: Limits = {
  wall_time_ms: 10_000,
  cpu_time_ms: 10_000,
  memory_bytes: 256 * 1024 * 1024,
  pids: 128,
  output_bytes: 1024 * 1024,
  file_size_bytes: 16 * 1024 * 1024,
  open_files: 256,
};

export const MAX_LIMITS: Limits = {
  wall_time_ms: 60_000,
  cpu_time_ms: 60_000,
  memory_bytes: 1024 * 1024 * 1024,
  pids: 512,
  output_bytes: 8 * 1024 * 1024,
  file_size_bytes: 64 * 1024 * 1024,
  open_files: 1024,
};

/**
 * Fill defaults and check requested limits against maximums. Returns the names of the limits
 * that are too high, so the caller can answer with all of them at once.
 */
export function resolveLimits(
  requested: LimitsInput | undefined,
  max: Limits = MAX_LIMITS,
  defaults: Limits = DEFAULT_LIMITS,
): { limits: Limits; tooHigh: (keyof Limits)[] } {
  const limits = { ...defaults };
  const tooHigh: (keyof Limits)[] = [];
  for (const key of Object.keys(defaults) as (keyof Limits)[]) {
    const want = requested?.[key] ?? Math.min(defaults[key], max[key]);
    if (want > max[key]) tooHigh.push(key);
    limits[key] = Math.min(want, max[key]);
  }
  return { limits, tooHigh };
}
