// The operator's dashboard socket (`GET /admin/events`, docs/admin.md): JSON text frames from the
// gateway to the page, each one schema here. A `snapshot` first, then what changes, coalesced:
// at most one frame of each kind per ADMIN_FRAME_INTERVAL_MS. Never a job's code or output.
// Plain valibot with no Node imports: the gateway and the dashboard page both use it.
import * as v from 'valibot';
import { EndReasonSchema, JobStateSchema } from './job.js';
import { RunnerViewSchema } from './rest.js';

/** Where the dashboard's socket is. */
export const ADMIN_EVENTS_PATH = '/admin/events';
/** Jobs the snapshot carries, and the most a `jobs` frame carries (the newest by creation). */
export const ADMIN_RECENT_JOBS = 50;
/** The coalescing window: at most one frame of each kind (runners, queue, jobs) per window. */
export const ADMIN_FRAME_INTERVAL_MS = 250;
/** A dashboard that leaves this much unread is closed (1008); it reconnects to a fresh snapshot. */
export const ADMIN_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** One job as the dashboard lists it: what happened and when, never its code, input or output. */
export const AdminJobSchema = v.object({
  id: v.string(),
  lang: v.string(),
  status: JobStateSchema,
  /** How the run ended (see END_REASONS), once it has. */
  reason: v.nullable(EndReasonSchema),
  exit_code: v.nullable(v.number()),
  /** The error's code for a `failed` job (`runner_lost`, `sandbox_failed`, …). */
  error: v.nullable(v.string()),
  /** Who submitted it: `key:<fingerprint>` or `addr:<ip>`. */
  client: v.nullable(v.string()),
  /** The runner it runs or ran on. */
  runner: v.nullable(v.string()),
  attempt: v.number(),
  created_at: v.string(),
  started_at: v.nullable(v.string()),
  finished_at: v.nullable(v.string()),
  timings: v.object({
    queue_ms: v.nullable(v.number()),
    compile_ms: v.nullable(v.number()),
    run_ms: v.nullable(v.number()),
    total_ms: v.nullable(v.number()),
  }),
});
export type AdminJob = v.InferOutput<typeof AdminJobSchema>;

/** Jobs waiting for a runner, by language; a language with none waiting is left out. */
export const QueueDepthSchema = v.record(v.string(), v.number());
export type QueueDepth = v.InferOutput<typeof QueueDepthSchema>;

/** `at` on every frame: the gateway's clock when it was built (the page measures ages with it). */
const at = v.string();

export const AdminSnapshotFrame = v.object({
  type: v.literal('snapshot'),
  at,
  /** How often runners send heartbeats: a runner silent for three is dropped. */
  heartbeat_ms: v.number(),
  /** Every connected runner, as `GET /runners` shows it. */
  runners: v.array(RunnerViewSchema),
  queue: QueueDepthSchema,
  /** The newest ADMIN_RECENT_JOBS jobs by creation, newest first (replicas of verified jobs are not listed). */
  jobs: v.array(AdminJobSchema),
});

export const AdminRunnersFrame = v.object({
  type: v.literal('runners'),
  at,
  /** Runners that joined or changed (state, slots in use, jobs done, languages, last heartbeat): whole views. */
  runners: v.array(RunnerViewSchema),
  /** Runners that left, with why (as the gateway logged it). */
  left: v.array(v.object({ name: v.string(), reason: v.string() })),
});

export const AdminQueueFrame = v.object({
  type: v.literal('queue'),
  at,
  /** The whole depth by language (replaces the last one). */
  queue: QueueDepthSchema,
});

export const AdminJobsFrame = v.object({
  type: v.literal('jobs'),
  at,
  /** Jobs queued, started, requeued or finished since the last frame, newest first: replace by id. */
  jobs: v.array(AdminJobSchema),
});

/** The socket was refused (before a close 4401) or a frame was sent to it (it takes none). */
export const AdminErrorFrame = v.object({
  type: v.literal('error'),
  code: v.string(),
  message: v.string(),
});

export const AdminFrameSchema = v.variant('type', [
  AdminSnapshotFrame,
  AdminRunnersFrame,
  AdminQueueFrame,
  AdminJobsFrame,
  AdminErrorFrame,
]);
export type AdminFrame = v.InferOutput<typeof AdminFrameSchema>;
