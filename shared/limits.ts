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

/**
 * The compile stage's defaults (`compile_limits` in a request): compilers need more time, memory,
 * processes and file size than most programs. Clamped to the same maximums as the run stage.
 */
export const DEFAULT_COMPILE_LIMITS: Limits = {
  wall_time_ms: 30_000,
  cpu_time_ms: 30_000,
  memory_bytes: 512 * 1024 * 1024,
  pids: 256,
  output_bytes: 1024 * 1024,
  file_size_bytes: 64 * 1024 * 1024,
  open_files: 1024,
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

const MiB = 1024 * 1024;

/**
 * Files sent with a job (`files`, plus the main file `code`). Names are relative paths: no
 * absolute path, no `.`/`..`/empty segment, no control character or backslash.
 */
export const INPUT_FILE_LIMITS = {
  /** Files besides the main one. */
  files: 64,
  /** All files' bytes together (after base64 decoding), the main file included. */
  total_bytes: 16 * MiB,
  /** Bytes of a name, UTF-8. */
  name_bytes: 255,
  /** Path segments of a name (`a/b/c.txt` has 3). */
  depth: 16,
} as const;

/** Files the program leaves in /workspace/out, brought back with the result. */
export const OUTPUT_FILE_LIMITS = {
  /** Regular files kept; later ones (in name order) are left out. */
  files: 64,
  /** Bytes kept of one file; past it the file is cut and marked truncated. */
  file_bytes: MiB,
  /** Bytes kept of all files together (the result travels in one frame). */
  total_bytes: MiB,
  /** Bytes of the tar stream read out of the sandbox, headers included; the rest is not read. */
  archive_bytes: 4 * MiB,
} as const;
