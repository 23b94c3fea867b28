// The bodies of the REST API: requests and responses, each one schema. The OpenAPI document is
// generated from these.
import * as v from 'valibot';
import { CallbackUrlSchema } from './callback.js';
import {
  EndReasonSchema,
  FileSchema,
  JobErrorSchema,
  JobRecordSchema,
  JobStateSchema,
  OutputFileSchema,
  StageResultSchema,
  TrustSchema,
  VerificationSchema,
  VerifySchema,
} from './job.js';
import { LimitsSchema } from './limits.js';

const MAX_CODE_BYTES = 512 * 1024;
/** The longest a client may ask a job to wait for a runner: one hour. */
export const MAX_QUEUE_TIMEOUT_MS = 3_600_000;
/** A job's own wait for a runner of its language, ms (REST and the client socket alike). */
export const QueueTimeoutSchema = v.pipe(
  v.number(),
  v.integer(),
  v.minValue(0),
  v.maxValue(MAX_QUEUE_TIMEOUT_MS),
);

/** The body of POST /execute/code (and the job part of every other way to submit one). */
export const ExecuteRequestSchema = v.strictObject({
  lang: v.pipe(v.string(), v.minLength(1), v.maxLength(32)),
  code: v.pipe(v.string(), v.maxLength(MAX_CODE_BYTES)),
  stdin: v.optional(v.pipe(v.string(), v.maxLength(MAX_CODE_BYTES))),
  args: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(4096))), v.maxLength(64))),
  /** More files beside the main one (`code`), e.g. modules it imports or data it reads. */
  files: v.optional(v.pipe(v.array(FileSchema), v.maxLength(64))),
  /** Limits of the run stage. */
  limits: v.optional(LimitsSchema),
  /** Limits of the compile stage, for compiled languages. */
  compile_limits: v.optional(LimitsSchema),
  task_id: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128))),
  /**
   * How long the job may wait for a runner that offers its language, ms. Without it, a language
   * that no connected runner offers or builds is refused at once (503 no_runner), and a job waits
   * the gateway's queue timeout (CODEEXEC_QUEUE_TIMEOUT_MS) for a runner that does.
   */
  queue_timeout_ms: v.optional(QueueTimeoutSchema),
  /**
   * `trusted`: only the operator's runners may run it (the code and its data never reach a
   * donor's machine). `any` (the default): donors too.
   */
  trust: v.optional(TrustSchema),
  /** Run it on several runners and accept only a result they agree on (see VerifySchema). */
  verify: v.optional(VerifySchema),
});
export type ExecuteRequest = v.InferOutput<typeof ExecuteRequestSchema>;

/** POST /execute/async (and /execute/sync): a job, plus where to deliver the result. */
export const AsyncRequestSchema = v.strictObject({
  ...ExecuteRequestSchema.entries,
  /** The finished job is POSTed here as JSON (with retries). */
  callback_url: v.optional(CallbackUrlSchema),
  /** Only runners with every one of these labels may run the job. */
  labels: v.optional(v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(64))), v.maxLength(16))),
});
export type AsyncRequest = v.InferOutput<typeof AsyncRequestSchema>;

/** The answer of POST /execute/code: the seed's three fields, then the rest of the result. */
export const ExecuteResponseSchema = v.object({
  output: v.string(),
  exit_code: v.nullable(v.number()),
  status: JobStateSchema,
  id: v.string(),
  stdout: v.string(),
  stderr: v.string(),
  signal: v.nullable(v.string()),
  reason: v.nullable(EndReasonSchema),
  compile: v.nullable(StageResultSchema),
  error: v.nullable(JobErrorSchema),
  output_files: v.array(OutputFileSchema),
  timings: JobRecordSchema.entries.timings,
  /** Present for a job that asked for verification. */
  verification: v.optional(VerificationSchema),
});
export type ExecuteResponse = v.InferOutput<typeof ExecuteResponseSchema>;

export const HealthResponseSchema = v.object({ status: v.literal('ok') });

export const ErrorResponseSchema = v.object({
  error: v.object({ code: v.string(), message: v.string(), details: v.optional(v.unknown()) }),
});

/** 202 answer of POST /execute/async. */
export const AsyncAcceptedSchema = v.object({ id: v.string(), status: JobStateSchema });

/** GET /execute/{id}/status, and the items of GET /execute. */
export const JobStatusSchema = v.object({
  id: v.string(),
  task_id: v.nullable(v.string()),
  lang: v.string(),
  status: JobStateSchema,
  attempt: v.number(),
  runner_id: v.nullable(v.string()),
  /** The client-socket session it ran in, or null. */
  session_id: v.nullable(v.string()),
  created_at: v.string(),
  started_at: v.nullable(v.string()),
  finished_at: v.nullable(v.string()),
});
export type JobStatus = v.InferOutput<typeof JobStatusSchema>;

export const JobListResponseSchema = v.object({
  jobs: v.array(JobStatusSchema),
  /** Pass as `cursor` for the next page; null on the last page. */
  next_cursor: v.nullable(v.string()),
});

export const LanguagesResponseSchema = v.object({
  languages: v.array(
    v.object({
      name: v.string(),
      versions: v.array(v.string()),
      aliases: v.array(v.string()),
      /** Runners offering it now. */
      runners: v.number(),
      /** Runners still building its image: a job for it waits for one to finish. */
      building: v.number(),
    }),
  ),
});
export type LanguagesResponse = v.InferOutput<typeof LanguagesResponseSchema>;

/** A runner identity's record of verified results (GET /runners). */
export const RunnerReliabilitySchema = v.object({
  agreed: v.number(),
  disagreed: v.number(),
  /** Agreements since its last disagreement. */
  streak: v.number(),
  /** Share of its verified results that agreed; null before the first. */
  rate: v.nullable(v.number()),
  /** `doubtful` after a disagreement, until it agrees 10 times in a row: offered work last. */
  standing: v.picklist(['good', 'doubtful']),
  quarantined: v.boolean(),
});

/** One connected runner, as the operator sees it (GET /runners). */
export const RunnerViewSchema = v.object({
  name: v.string(),
  /**
   * The id of the gateway it is connected to (CODEEXEC_GATEWAY_ID): always set by GET /runners,
   * which lists the runners of every gateway of the fleet; absent on the dashboard's socket, which
   * shows only the runners of the gateway it is connected to.
   */
  gateway: v.optional(v.string()),
  /** Who answers for its results: `donor:<token fingerprint>` for a donor, else its name. */
  identity: v.string(),
  tier: v.picklist(['trusted', 'donor']),
  state: v.picklist(['ready', 'paused', 'draining', 'quarantined']),
  version: v.string(),
  slots: v.number(),
  /** Slots in use. */
  load: v.number(),
  running: v.number(),
  /** Jobs it finished with a result since it connected. */
  jobs_done: v.number(),
  languages: v.array(v.string()),
  labels: v.array(v.string()),
  reliability: RunnerReliabilitySchema,
  /**
   * When the gateway last heard from it: its heartbeat (every heartbeat interval) or any other
   * frame. A runner silent for three heartbeat intervals is dropped.
   */
  last_seen_at: v.string(),
});
export type RunnerView = v.InferOutput<typeof RunnerViewSchema>;

/** One living gateway of the fleet, the gateways that share a PostgreSQL store (GET /runners). */
export const FleetGatewaySchema = v.object({
  /** Its id (CODEEXEC_GATEWAY_ID, or a random `gw-…` per process). */
  id: v.string(),
  /** Where it listens, as it sees itself (behind a proxy, the proxy's address differs). */
  url: v.string(),
  /** Its runners in this answer. */
  runners: v.number(),
  /**
   * When its lease in the fleet runs out unless it beats again (every third of
   * CODEEXEC_GATEWAY_TTL_MS); null for the gateway answering when the fleet could not be read or
   * its lease ran out (it could not renew it).
   */
  expires_at: v.nullable(v.string()),
  /** The gateway that answers. */
  self: v.boolean(),
});
export type FleetGateway = v.InferOutput<typeof FleetGatewaySchema>;

/**
 * The runners of every living gateway of the fleet: the answering gateway's as they are now, the
 * others' as of their last beat (a third of CODEEXEC_GATEWAY_TTL_MS ago at most).
 */
export const RunnersResponseSchema = v.object({
  runners: v.array(RunnerViewSchema),
  /** The living gateways, the answering one first, then by when they started. */
  gateways: v.array(FleetGatewaySchema),
  /** The fleet could not be read (its database is away): the answering gateway's runners only. */
  partial: v.boolean(),
});
export type RunnersResponse = v.InferOutput<typeof RunnersResponseSchema>;

export const QuarantineResponseSchema = v.object({
  identity: v.string(),
  reliability: RunnerReliabilitySchema,
});
