// The runner protocol on /runners/connect: JSON text frames, each one schema here.
// Runner → gateway: hello, accept, reject, stage, output, done, heartbeat, error, drain,
// session_opened, session_ended, session_files_result, languages, capacity.
// Gateway → runner: welcome, offer, cancel, stdin, stdin_eof, signal, heartbeat, error,
// session_open, session_close, session_files.
import * as v from 'valibot';
import { MAX_LISTED_FILES, SignalSchema, WorkspaceFileSchema } from './client-protocol.js';
import { FileSchema, JobErrorSchema, RunResultSchema, StageResultSchema } from './job.js';
import { LimitsSchema } from './limits.js';

export const PROTOCOL_VERSION = 1;

const id = v.pipe(v.string(), v.minLength(1), v.maxLength(128));

export const RunnerLanguageSchema = v.object({
  name: v.string(),
  version: v.string(),
  aliases: v.array(v.string()),
});
export type RunnerLanguage = v.InferOutput<typeof RunnerLanguageSchema>;

export const HelloFrame = v.object({
  type: v.literal('hello'),
  protocol: v.literal(PROTOCOL_VERSION),
  token: v.string(),
  name: id,
  version: v.string(),
  languages: v.array(RunnerLanguageSchema),
  slots: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1024)),
  labels: v.optional(v.array(v.string()), []),
  /** Jobs this runner still holds from before a reconnect (running, or finished and not yet reported). */
  held: v.optional(v.array(id), []),
  /** The runner is draining (it reconnected during a drain): offer it nothing. */
  draining: v.optional(v.boolean(), false),
  /**
   * Languages (canonical names) whose sandbox images are being built: offered later with a
   * `languages` frame. Jobs for them wait instead of failing with no_runner.
   */
  building: v.optional(v.array(v.string()), []),
  /** The runner is paused (it reconnected while paused): offer it nothing until `capacity` says so. */
  paused: v.optional(v.boolean(), false),
});

/**
 * Runner → gateway: what it offers now, replacing the hello's list (an image finished building,
 * or failed to). `building` replaces the hello's too.
 */
export const LanguagesFrame = v.object({
  type: v.literal('languages'),
  languages: v.array(RunnerLanguageSchema),
  building: v.optional(v.array(v.string()), []),
});

/**
 * Runner → gateway: its capacity changed. `slots` is how many jobs it runs at once from now on
 * (jobs already held beyond it finish); `paused` means offer it nothing until a later capacity
 * frame says otherwise (unlike drain, it is not leaving: it keeps its jobs and sessions).
 */
export const CapacityFrame = v.object({
  type: v.literal('capacity'),
  slots: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1024)),
  paused: v.boolean(),
});

/** Runner → gateway: stop offering me jobs; I finish the ones I hold, then leave. */
export const DrainFrame = v.object({ type: v.literal('drain') });

export const AcceptFrame = v.object({ type: v.literal('accept'), job_id: id });
export const RejectFrame = v.object({ type: v.literal('reject'), job_id: id, reason: v.string() });
/**
 * Runner → gateway: I hand this accepted job back unfinished (its owner suspended the runner);
 * I have killed its sandbox and will send nothing more for it. The gateway queues it again,
 * without counting the attempt.
 */
export const ReleaseFrame = v.object({ type: v.literal('release'), job_id: id, reason: v.string() });

export const OutputFrame = v.object({
  type: v.literal('output'),
  job_id: id,
  stream: v.picklist(['stdout', 'stderr']),
  /** Per job, per runner session, from 0, across both streams: gives the interleaved order. */
  seq: v.pipe(v.number(), v.integer(), v.minValue(0)),
  data: v.string(),
});

export const DoneFrame = v.object({
  type: v.literal('done'),
  job_id: id,
  result: v.optional(RunResultSchema),
  /** Set instead of result when the runner could not run the job (infrastructure). */
  error: v.optional(JobErrorSchema),
});

export const HeartbeatFrame = v.object({
  type: v.literal('heartbeat'),
  /** Runner → gateway: the jobs it holds (renews their leases). */
  jobs: v.optional(v.array(id), []),
});

export const ErrorFrame = v.object({
  type: v.literal('error'),
  code: v.string(),
  message: v.string(),
  job_id: v.optional(id),
});

export const WelcomeFrame = v.object({
  type: v.literal('welcome'),
  runner_id: id,
  heartbeat_ms: v.number(),
  lease_ms: v.number(),
  /** How often the runner pings the gateway (WebSocket pings; absent from older gateways: 25 s). */
  ping_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
});

/**
 * Gateway → runner: the gateway is going away (it is shutting down); the socket closes with 1001
 * next. The runner dials the next gateway of its list at once, or, with only this one, this one
 * again after `reconnect_after_ms` (each runner is given its own value, so they do not all come
 * back together). Not a failure: it does not add to the runner's backoff.
 */
export const RunnerGoawayFrame = v.object({
  type: v.literal('goaway'),
  reconnect_after_ms: v.pipe(v.number(), v.integer(), v.minValue(0)),
});

/** A job as offered to a runner. */
export const OfferedJobSchema = v.object({
  id,
  lang: v.string(),
  code: v.string(),
  stdin: v.nullable(v.string()),
  args: v.array(v.string()),
  files: v.optional(v.array(FileSchema), []),
  limits: v.nullable(LimitsSchema),
  compile_limits: v.optional(v.nullable(LimitsSchema), null),
  /** Keep stdin open: `stdin` frames follow, then `stdin_eof`. `stdin` above is sent first. */
  interactive: v.optional(v.boolean(), false),
  /**
   * Run it in this open session's sandbox (see SessionOpenFrame), not a fresh one: it takes no
   * slot of its own, and the gateway sends a session one execution at a time.
   */
  session_id: v.optional(v.nullable(id), null),
});
export type OfferedJob = v.InferOutput<typeof OfferedJobSchema>;

export const OfferFrame = v.object({ type: v.literal('offer'), job: OfferedJobSchema });
export const CancelFrame = v.object({ type: v.literal('cancel'), job_id: id });
/** Interactive jobs: more stdin, its end, and signals for the program. */
export const StdinFrame = v.object({ type: v.literal('stdin'), job_id: id, data: v.string() });
export const StdinEofFrame = v.object({ type: v.literal('stdin_eof'), job_id: id });
export const SignalFrame = v.object({ type: v.literal('signal'), job_id: id, signal: SignalSchema });

/**
 * Runner → gateway: the job's run stage starts now (sent only for languages with a compile
 * stage, after it succeeded): output that follows is the program's, not the compiler's.
 */
export const StageFrame = v.object({
  type: v.literal('stage'),
  job_id: id,
  stage: v.picklist(['compile', 'run']),
  /** With stage `run`: the compile stage that just succeeded (its output, for clients that stream it). */
  compile: v.optional(StageResultSchema),
});

/**
 * Gateway → runner: lease one sandbox of `lang` for a client's session, sized by `limits`
 * (memory_bytes and pids are the sandbox's; the rest are clamped like a job's). The session takes
 * one slot until it ends. Executions are offered with its session_id; they share /workspace.
 */
export const SessionOpenFrame = v.object({
  type: v.literal('session_open'),
  session_id: id,
  lang: v.string(),
  limits: v.nullable(LimitsSchema),
});
/** Gateway → runner: the session is over (closed, idle, client gone): remove its sandbox. */
export const SessionCloseFrame = v.object({ type: v.literal('session_close'), session_id: id });
/** Runner → gateway: the session's sandbox is ready for executions. */
export const SessionOpenedFrame = v.object({ type: v.literal('session_opened'), session_id: id });
/**
 * Runner → gateway: the session could not open (before session_opened), or its sandbox is gone
 * (died, or had to be killed). Not sent for a session the gateway closed. `code` is an error code.
 */
export const SessionEndedFrame = v.object({
  type: v.literal('session_ended'),
  session_id: id,
  code: v.string(),
  message: v.string(),
});

/**
 * Gateway → runner: list the regular files in the session's /workspace (whether an execution runs
 * or not), answered with session_files_result carrying the same request_id.
 */
export const SessionFilesFrame = v.object({
  type: v.literal('session_files'),
  session_id: id,
  request_id: id,
});
/**
 * Runner → gateway: the listing, sorted by path, at most MAX_LISTED_FILES (`truncated` when more,
 * or when the listing was cut short); or `error` when it could not be made.
 */
export const SessionFilesResultFrame = v.object({
  type: v.literal('session_files_result'),
  session_id: id,
  request_id: id,
  files: v.optional(v.pipe(v.array(WorkspaceFileSchema), v.maxLength(MAX_LISTED_FILES)), []),
  truncated: v.optional(v.boolean(), false),
  error: v.optional(JobErrorSchema),
});

export const RunnerToGatewayFrame = v.variant('type', [
  HelloFrame,
  AcceptFrame,
  RejectFrame,
  ReleaseFrame,
  OutputFrame,
  DoneFrame,
  HeartbeatFrame,
  ErrorFrame,
  DrainFrame,
  StageFrame,
  SessionOpenedFrame,
  SessionEndedFrame,
  SessionFilesResultFrame,
  LanguagesFrame,
  CapacityFrame,
]);
export type RunnerToGateway = v.InferOutput<typeof RunnerToGatewayFrame>;

export const GatewayToRunnerFrame = v.variant('type', [
  WelcomeFrame,
  OfferFrame,
  CancelFrame,
  StdinFrame,
  StdinEofFrame,
  SignalFrame,
  HeartbeatFrame,
  ErrorFrame,
  SessionOpenFrame,
  SessionCloseFrame,
  SessionFilesFrame,
  RunnerGoawayFrame,
]);
export type GatewayToRunner = v.InferOutput<typeof GatewayToRunnerFrame>;

/**
 * Largest frame either side accepts, bytes: a result holds up to 8 MiB per stream plus their
 * combination; the runner cuts one that would not fit (runner/fit-result.ts). Output chunks are small.
 */
export const MAX_RUNNER_FRAME_BYTES = 48 * 1024 * 1024;
