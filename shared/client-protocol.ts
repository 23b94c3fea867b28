// The client WebSocket protocol on /execute/ws: JSON text frames, each one schema here. Many jobs
// share one socket, each named by an id the client chooses.
import * as v from 'valibot';
import { FileSchema, TrustSchema, VerifySchema } from './job.js';
import { LimitsSchema } from './limits.js';
import { AsyncRequestSchema, ExecuteResponseSchema, QueueTimeoutSchema } from './rest.js';

const clientId = v.pipe(v.string(), v.minLength(1), v.maxLength(64));

/** Signals a client may send to its program. */
export const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGKILL', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;
export const SignalSchema = v.picklist(SIGNALS);
export type Signal = (typeof SIGNALS)[number];

const lang = v.pipe(v.string(), v.minLength(1), v.maxLength(32));

export const ClientExecuteFrame = v.strictObject({
  type: v.literal('execute'),
  id: clientId,
  /** Required, except in a session (which has its language; if given, it must name it). */
  lang: v.optional(lang),
  code: v.pipe(v.string(), v.maxLength(512 * 1024)),
  stdin: v.optional(v.pipe(v.string(), v.maxLength(512 * 1024))),
  args: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(4096))), v.maxLength(64))),
  files: v.optional(v.pipe(v.array(FileSchema), v.maxLength(64))),
  limits: v.optional(LimitsSchema),
  compile_limits: v.optional(LimitsSchema),
  task_id: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128))),
  /** How long the job may wait for a runner of its language (see POST /execute/code). */
  queue_timeout_ms: v.optional(QueueTimeoutSchema),
  /** Where it may run: `trusted` runners only, or `any` (donors too; the default). */
  trust: v.optional(TrustSchema),
  /** Run it on several runners and accept a result they agree on (not with interactive or session). */
  verify: v.optional(VerifySchema),
  /** Only runners with every one of these labels may run it, as over REST (not in a session). */
  labels: AsyncRequestSchema.entries.labels,
  /** Keep the program's stdin open for `stdin` frames until `stdin_eof`. */
  interactive: v.optional(v.boolean(), false),
  /**
   * Run it in this socket's open session (the session_open id): in the session's sandbox, after
   * the session's earlier executions, seeing the files they left. Its limits default to the
   * session's, field by field.
   */
  session: v.optional(clientId),
});

/** How long an idle session keeps its sandbox, by default and at most, milliseconds. */
export const DEFAULT_SESSION_IDLE_MS = 5 * 60 * 1000;
export const MAX_SESSION_IDLE_MS = 60 * 60 * 1000;
/** Sessions one socket may have open at once (each holds a runner slot). */
export const MAX_SESSIONS_PER_SOCKET = 4;

/**
 * Lease one sandbox for this socket: executions naming the session run in it one at a time and
 * share /workspace (files, installed packages). It ends on session_close, after idle_timeout_ms
 * with no execution, or when the socket closes; its sandbox is removed then.
 */
export const ClientSessionOpenFrame = v.strictObject({
  type: v.literal('session_open'),
  id: clientId,
  lang,
  /** The sandbox's memory_bytes and pids, and the defaults of its executions' other limits. */
  limits: v.optional(LimitsSchema),
  /** `trusted`: the session's sandbox is on one of the operator's runners, never a donor's. */
  trust: v.optional(TrustSchema),
  idle_timeout_ms: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(1000), v.maxValue(MAX_SESSION_IDLE_MS)),
  ),
});
export const ClientSessionCloseFrame = v.strictObject({ type: v.literal('session_close'), id: clientId });

/** Most files a session_files answer lists; past it the answer says `truncated`. */
export const MAX_LISTED_FILES = 1000;
/** Longest path a listing holds, characters: a longer one is left out. */
export const MAX_LISTED_PATH_CHARS = 4096;

/** A regular file in a session's workspace. */
export const WorkspaceFileSchema = v.object({
  /** Relative to /workspace; bytes of the name that are not UTF-8 read as U+FFFD. */
  path: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_LISTED_PATH_CHARS)),
  size: v.pipe(v.number(), v.integer(), v.minValue(0)),
});
export type WorkspaceFile = v.InferOutput<typeof WorkspaceFileSchema>;

/**
 * List the regular files in the session's /workspace, now: nothing runs as a job, and an
 * execution may be running. `id` names the request (answered by session_files or error).
 */
export const ClientSessionFilesFrame = v.strictObject({
  type: v.literal('session_files'),
  id: clientId,
  session: clientId,
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

/**
 * Follow a job again after a lost connection: the chunks after `after_seq` (all of them when it is
 * left out), then the live rest and `exit`. `id` names it on this socket, as for execute; the job
 * must be the caller's (with API keys). An interactive job's stdin is not reattached.
 */
export const ClientResumeFrame = v.strictObject({
  type: v.literal('resume'),
  id: clientId,
  job_id: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  after_seq: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(-1), v.maxValue(Number.MAX_SAFE_INTEGER)),
    -1,
  ),
});

export const ClientToGatewayFrame = v.variant('type', [
  ClientExecuteFrame,
  ClientStdinFrame,
  ClientStdinEofFrame,
  ClientSignalFrame,
  ClientCancelFrame,
  ClientResumeFrame,
  ClientSessionOpenFrame,
  ClientSessionCloseFrame,
  ClientSessionFilesFrame,
]);
export type ClientToGateway = v.InferOutput<typeof ClientToGatewayFrame>;

/** Why a session ended: session_close, idle timeout, its sandbox died, its runner went away. */
export const SESSION_END_REASONS = ['closed', 'idle_timeout', 'sandbox_ended', 'runner_lost'] as const;

/**
 * Why chunks cannot be sent: `not_retained`, the gateway no longer holds them (trimmed to bound
 * memory, or lost with a gateway restart); `not_received`, the runner produced them but they never
 * reached the gateway (its link was down).
 */
export const GAP_REASONS = ['not_retained', 'not_received'] as const;

/**
 * Chunks from_seq…to_seq (inclusive) will not come. `to_seq` null: the gateway cannot tell how
 * many; up to the next chunk that does come. The exit frame's result still has the whole stdout
 * and stderr as stored.
 */
export const OutputGapSchema = v.object({
  from_seq: v.number(),
  to_seq: v.nullable(v.number()),
  reason: v.picklist(GAP_REASONS),
});
export type OutputGap = v.InferOutput<typeof OutputGapSchema>;

export const GatewayToClientFrame = v.variant('type', [
  /** The job is stored and queued. */
  v.object({ type: v.literal('accepted'), id: v.string(), job_id: v.string() }),
  /** A runner accepted it. */
  v.object({ type: v.literal('started'), id: v.string(), runner: v.string(), attempt: v.number() }),
  /**
   * Output as the program produces it. seq numbers the job's chunks over both streams: from 0,
   * plus (attempt − 1) × 2^32 on a retry. A number this socket skipped was dropped for a slow
   * reader (see exit's dropped_chunks); resume gets it back.
   */
  v.object({ type: v.literal('stdout'), id: v.string(), seq: v.number(), data: v.string() }),
  v.object({ type: v.literal('stderr'), id: v.string(), seq: v.number(), data: v.string() }),
  /** The job ended: the whole result, and how many live chunks the socket could not take. */
  v.object({
    type: v.literal('exit'),
    id: v.string(),
    result: ExecuteResponseSchema,
    dropped_chunks: v.number(),
  }),
  /** Some chunks will not come (see OutputGapSchema); sent live and on resume. */
  v.object({ type: v.literal('gap'), id: v.string(), ...OutputGapSchema.entries }),
  /** A resume frame was taken: the job's chunks after its after_seq follow, then the live rest. */
  v.object({
    type: v.literal('resumed'),
    id: v.string(),
    job_id: v.string(),
    status: v.string(),
    attempt: v.number(),
  }),
  /**
   * The gateway is going away (it stops or restarts): the socket closes next (1001). Reconnect
   * after reconnect_after_ms and resume your unfinished jobs; an open session is gone.
   */
  v.object({
    type: v.literal('goaway'),
    id: v.null(),
    reconnect_after_ms: v.number(),
    message: v.string(),
  }),
  /** The session's sandbox is ready (executions sent before this wait for it). */
  v.object({
    type: v.literal('session_opened'),
    id: v.string(),
    session_id: v.string(),
    runner: v.string(),
    lang: v.string(),
    idle_timeout_ms: v.number(),
  }),
  /** The session is over and its sandbox gone; executions still waiting in it ended with errors. */
  v.object({
    type: v.literal('session_closed'),
    id: v.string(),
    reason: v.picklist(SESSION_END_REASONS),
    message: v.string(),
  }),
  /** The session's workspace files, sorted by path (at most MAX_LISTED_FILES: `truncated`). */
  v.object({
    type: v.literal('session_files'),
    id: v.string(),
    session_id: v.string(),
    files: v.array(WorkspaceFileSchema),
    truncated: v.boolean(),
  }),
  v.object({
    type: v.literal('error'),
    id: v.nullable(v.string()),
    code: v.string(),
    message: v.string(),
    /** As in REST error bodies (docs/errors.md): rate_limited's retry_after_ms, the known languages… */
    details: v.optional(v.unknown()),
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
