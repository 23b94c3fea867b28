// Jobs: what a client submits, how a run ends, and the record the gateway stores.
import * as v from 'valibot';
import { CallbackDeliverySchema } from './callback.js';
import { LimitsSchema } from './limits.js';

/** Lifecycle of a job. Guarded transitions live in the gateway's job store. */
export const JOB_STATES = {
  queued: 'waiting for a runner',
  running: 'accepted by a runner, lease held',
  done: 'the sandbox ran the program; see reason and exit_code',
  failed: 'the job could not be run (infrastructure); see error',
  cancelled: 'cancelled before it finished',
} as const;
export type JobState = keyof typeof JOB_STATES;
export const JobStateSchema = v.picklist(Object.keys(JOB_STATES) as JobState[]);

/** How a run ended. `exited` covers any exit code. */
export const END_REASONS = {
  exited: 'the program exited by itself (any exit code)',
  wall_time: 'the wall-time limit was reached; the sandbox was killed',
  cpu_time: 'the CPU-time limit was reached',
  memory: 'the memory limit was reached; the kernel killed the program',
  output_limit: 'an output stream passed its byte limit; the sandbox was killed',
  signal: 'the program was killed by a signal (see signal)',
  compile_failed: 'the compile stage failed; the program did not run',
  cancelled: 'the job was cancelled',
} as const;
export type EndReason = keyof typeof END_REASONS;
export const EndReasonSchema = v.picklist(Object.keys(END_REASONS) as EndReason[]);

/** A file sent with a job. Names are relative paths inside the workspace (checked by the runner). */
export const FileSchema = v.strictObject({
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(255)),
  content: v.string(),
  encoding: v.optional(v.picklist(['utf8', 'base64']), 'utf8'),
});
export type FileInput = v.InferOutput<typeof FileSchema>;

/** A file the program wrote to its output directory (/workspace/out), brought back. */
export const OutputFileSchema = v.object({
  name: v.string(),
  /** base64 of the bytes (possibly cut at the limit: see truncated). */
  content: v.string(),
  size: v.number(),
  truncated: v.boolean(),
});
export type OutputFile = v.InferOutput<typeof OutputFileSchema>;

/** The result of one stage (compile or run) in a sandbox. */
export const StageResultSchema = v.object({
  stdout: v.string(),
  stderr: v.string(),
  /** stdout and stderr interleaved in the order they were produced. */
  output: v.string(),
  exit_code: v.nullable(v.number()),
  signal: v.nullable(v.string()),
  reason: EndReasonSchema,
  wall_ms: v.number(),
  truncated: v.boolean(),
  /**
   * CPU time (user + sys, ms) of the stage's program and the children it waited for, as the
   * sandbox's waiter measured it; null when the runner killed the stage or the program never ran.
   * The sandbox reports it: informative, not proof (a hostile program can forge its own).
   */
  cpu_ms: v.optional(v.nullable(v.number())),
});
export type StageResult = v.InferOutput<typeof StageResultSchema>;

/** What a runner reports when it finishes a job. */
export const RunResultSchema = v.object({
  ...StageResultSchema.entries,
  compile: v.optional(StageResultSchema),
  files: v.optional(v.array(OutputFileSchema)),
});
export type RunResult = v.InferOutput<typeof RunResultSchema>;

export const JobErrorSchema = v.object({ code: v.string(), message: v.string() });

/** The stored job: the seed's CODEJOB fields, then what users need besides. */
/** Where a job may run: `trusted` only on the operator's runners, `any` on donors' machines too. */
export const TrustSchema = v.picklist(['trusted', 'any']);
export type Trust = v.InferOutput<typeof TrustSchema>;

/** The most replicas one verified job may use. */
export const MAX_REPLICAS = 9;

/**
 * Run the job on `quorum` runners of different identities and accept the result they agree on;
 * on a disagreement, one more replica at a time (on a trusted runner when one exists), up to
 * `max_replicas` (default quorum + 2).
 */
export const VerifySchema = v.strictObject({
  quorum: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(5)),
  /** At least quorum (the gateway checks). */
  max_replicas: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_REPLICAS))),
});
export type Verify = v.InferOutput<typeof VerifySchema>;

/**
 * How a verified job's result was reached: `agreed` (quorum replicas returned the same result),
 * `single` (one runner's word: quorum 1, or a job that runs only on trusted runners), `unverified`
 * (no quorum within max_replicas: the job failed), `pending` (replicas still running).
 */
export const VerificationSchema = v.object({
  state: v.picklist(['pending', 'agreed', 'single', 'unverified']),
  quorum: v.number(),
  replicas: v.array(
    v.object({
      job_id: v.string(),
      runner_id: v.nullable(v.string()),
      tier: v.nullable(v.picklist(['trusted', 'donor'])),
      /** Whether its result is the accepted one; null while running or when it gave none. */
      agreed: v.nullable(v.boolean()),
    }),
  ),
});
export type Verification = v.InferOutput<typeof VerificationSchema>;

export const JobRecordSchema = v.object({
  id: v.string(),
  task_id: v.nullable(v.string()),
  lang: v.string(),
  code: v.string(),
  output: v.string(),
  exit_code: v.nullable(v.number()),
  status: JobStateSchema,
  stdout: v.string(),
  stderr: v.string(),
  signal: v.nullable(v.string()),
  reason: v.nullable(EndReasonSchema),
  compile: v.nullable(StageResultSchema),
  error: v.nullable(JobErrorSchema),
  stdin: v.nullable(v.string()),
  args: v.array(v.string()),
  /** Files besides the main one (`code`). */
  files: v.optional(v.array(FileSchema), []),
  limits: v.nullable(LimitsSchema),
  compile_limits: v.optional(v.nullable(LimitsSchema), null),
  /** Its stdin stays open for the client socket's stdin frames (until stdin_eof). */
  interactive: v.optional(v.boolean(), false),
  /** Files the program left in /workspace/out. */
  output_files: v.optional(v.array(OutputFileSchema), []),
  /** Runners must have every one of these labels. */
  labels: v.optional(v.array(v.string()), []),
  callback_url: v.optional(v.nullable(v.string()), null),
  /** How delivering the finished job to callback_url went; null without a callback_url. */
  callback: v.optional(v.nullable(CallbackDeliverySchema), null),
  /** How long it may wait for a runner (the request's queue_timeout_ms), or null: the gateway's. */
  queue_timeout_ms: v.optional(v.nullable(v.number()), null),
  /** The client-socket session whose sandbox ran it (see docs/client-protocol.md), or null. */
  session_id: v.optional(v.nullable(v.string()), null),
  /** Who submitted it: `key:<fingerprint>` with API keys, `addr:<ip>` without (caps, listing). */
  client: v.optional(v.nullable(v.string()), null),
  runner_id: v.nullable(v.string()),
  attempt: v.number(),
  created_at: v.string(),
  started_at: v.nullable(v.string()),
  finished_at: v.nullable(v.string()),
  /** Milliseconds: queued until accepted, run stage wall time, compile stage wall time, total. */
  timings: v.object({
    queue_ms: v.nullable(v.number()),
    compile_ms: v.nullable(v.number()),
    run_ms: v.nullable(v.number()),
    total_ms: v.nullable(v.number()),
  }),
  /** The gateway cut stdout, stderr or output (or the compile stage's) to its store cap. */
  output_capped: v.optional(v.boolean(), false),
  /** Where it may run (see TrustSchema). */
  trust: v.optional(TrustSchema, 'any'),
  /** The verification it asked for, or null. */
  verify: v.optional(v.nullable(VerifySchema), null),
  /** How its result was verified (verified jobs only), or null. */
  verification: v.optional(v.nullable(VerificationSchema), null),
  /** For a replica of a verified job (internal, not listed): the job it is a replica of. */
  replica_of: v.optional(v.nullable(v.string()), null),
});
export type JobRecord = v.InferOutput<typeof JobRecordSchema>;
