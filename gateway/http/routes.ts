// The REST routes. Bodies are parsed against the shared schemas here, at the boundary; the
// dispatcher and store only ever see valid data.
import {
  type AsyncRequest,
  AsyncRequestSchema,
  CodeexecError,
  ExecuteRequestSchema,
  type ExecuteResponse,
  isErrorCode,
  type JobRecord,
  type JobStatus,
  type Logger,
  parse,
  parseJson,
} from '../../shared/index.js';
import type { CallbackGuard } from '../callbacks/callback-guard.js';
import type { Dispatcher } from '../jobs/dispatcher.js';
import type { JobBook } from '../jobs/job-book.js';
import type { JobIntake } from '../jobs/job-intake.js';
import { isFinished } from '../jobs/job-watch.js';
import type { OutputLogs } from '../output/output-log.js';
import type { RunnerRegistry } from '../runners/runner-registry.js';
import type { HttpHandler, HttpRequest } from '../transport/transport.js';
import type { ClientAuth } from './client-auth.js';
import { afterSeqOf, outputEvents } from './output-events.js';
import type { RateLimits } from './rate-limits.js';
import { createRouter, json, type Route } from './router.js';

export interface RoutesDeps {
  dispatcher: Dispatcher;
  intake: JobIntake;
  book: JobBook;
  /** Every job's kept output, for GET /execute/{id}/output. */
  output: OutputLogs;
  /** How often a quiet output stream carries a comment line (CODEEXEC_PING_MS). */
  heartbeatMs: number;
  registry: RunnerRegistry;
  auth: ClientAuth;
  /** Refuses a callback_url that leads to an internal address (400 callback_forbidden). */
  callbackGuard: CallbackGuard;
  log: Logger;
  /** Submissions per client and requests per address (CODEEXEC_RATE_LIMIT); none: unlimited. */
  limits?: RateLimits;
  /** Extra routes (the OpenAPI document, later the web page). */
  extra?: readonly Route[];
}

const PAGE_DEFAULT = 50;
const PAGE_MAX = 500;
/** How long DELETE waits for a running job's runner to confirm the kill. */
const CANCEL_WAIT_MS = 10_000;

export function createRoutes({
  dispatcher,
  intake,
  book,
  output,
  heartbeatMs,
  registry,
  auth,
  callbackGuard,
  log,
  limits,
  extra = [],
}: RoutesDeps): HttpHandler {
  const readJson = (req: HttpRequest): unknown => {
    const type = req.headers['content-type'];
    if (type && !/json/i.test(type)) {
      throw new CodeexecError('unsupported_media_type', `The body must be application/json, not ${type}`);
    }
    return parseJson(req.body.toString('utf8'));
  };

  /** Queues a valid submission on behalf of `client`. */
  const submit = (request: AsyncRequest, client: string) => intake.submit(request, false, client);

  /** The body of /execute/sync and /execute/async: its callback_url must lead somewhere allowed. */
  const readAsync = async (req: HttpRequest): Promise<AsyncRequest> => {
    const request = parse(AsyncRequestSchema, readJson(req));
    if (request.callback_url !== undefined) await callbackGuard.check(request.callback_url);
    return request;
  };

  /** With API keys, a client sees only its own jobs: another key's job is as good as absent. */
  const jobOf = async (id: string, client: string): Promise<JobRecord> => {
    const job = await book.find(id);
    if (!job || (auth.enabled && job.client !== client)) throw new CodeexecError('not_found', `No job ${id}`);
    return job;
  };

  /** A job that could not run is an error answer; one that ran (any exit code) is a result. */
  const failedAsError = (job: JobRecord): void => {
    if (job.status !== 'failed') return;
    const code = isErrorCode(job.error?.code) ? job.error.code : 'internal';
    throw new CodeexecError(code, job.error?.message, { id: job.id });
  };

  const routes: Route[] = [
    {
      method: 'GET',
      path: '/execute/health',
      open: true,
      handle: async () => json(200, { status: 'ok' }),
    },
    {
      method: 'POST',
      path: '/execute/code',
      submits: true,
      handle: async ({ req, client }) => {
        const job = await dispatcher.wait(submit(parse(ExecuteRequestSchema, readJson(req)), client).job.id);
        failedAsError(job);
        return json(200, toExecuteResponse(job));
      },
    },
    {
      method: 'POST',
      path: '/execute/sync',
      submits: true,
      handle: async ({ req, client }) => {
        const job = await dispatcher.wait(submit(await readAsync(req), client).job.id);
        failedAsError(job);
        return json(200, job);
      },
    },
    {
      method: 'POST',
      path: '/execute/async',
      submits: true,
      handle: async ({ req, client }) => {
        const { job, durable } = submit(await readAsync(req), client);
        // Accepted means stored: the 202 is sent only once the job is on disk.
        await durable;
        return json(202, { id: job.id, status: job.status }, { location: `/execute/${job.id}/result` });
      },
    },
    {
      method: 'GET',
      path: '/execute/:id/status',
      handle: async ({ params, client }) => json(200, toStatus(await jobOf(params.id!, client))),
    },
    {
      method: 'GET',
      path: '/execute/:id/result',
      handle: async ({ params, client }) => {
        const job = await jobOf(params.id!, client);
        // Not finished yet: 202 with the status, and when to ask again.
        if (!isFinished(job)) return json(202, toStatus(job), { 'retry-after': '1' });
        return json(200, job);
      },
    },
    {
      // Server-sent events: the output after after_seq (or Last-Event-ID), live, then the result.
      // EventSource cannot set headers: the key may come as ?key= (docs/security.md: its risk).
      method: 'GET',
      path: '/execute/:id/output',
      queryKey: true,
      handle: async ({ req, params, client }) => {
        const afterSeq = afterSeqOf(req);
        return outputEvents({ dispatcher, output, heartbeatMs }, await jobOf(params.id!, client), afterSeq);
      },
    },
    {
      method: 'DELETE',
      path: '/execute/:id',
      handle: async ({ params, client }) => {
        const id = params.id!;
        const before = await jobOf(id, client);
        if (isFinished(before)) {
          throw new CodeexecError('job_finished', `Job ${id} already ended as ${before.status}`, { id });
        }
        let job = dispatcher.cancel(id) ?? (await jobOf(id, client));
        if (!isFinished(job)) {
          let timer: NodeJS.Timeout | undefined;
          job = await Promise.race([
            dispatcher.wait(id),
            new Promise<JobRecord>((resolve) => {
              timer = setTimeout(() => resolve(jobOf(id, client)), CANCEL_WAIT_MS);
            }),
          ]);
          clearTimeout(timer);
        }
        return json(isFinished(job) ? 200 : 202, toStatus(job));
      },
    },
    {
      method: 'GET',
      path: '/execute',
      handle: async ({ req, client }) => {
        const taskId = req.query.get('task_id') ?? undefined;
        const limit = pageSize(req.query.get('limit'));
        const offset = decodeCursor(req.query.get('cursor'));
        const page = await book.store.list(
          { ...(taskId === undefined ? {} : { task_id: taskId }), ...(auth.enabled ? { client } : {}) },
          offset,
          limit,
        );
        return json(200, {
          // A verified job's replicas are internal: its verification names them.
          jobs: page.jobs.filter((job) => job.replica_of === null).map(toStatus),
          next_cursor: page.more ? encodeCursor(offset + limit) : null,
        });
      },
    },
    {
      method: 'GET',
      path: '/languages',
      handle: async () => {
        const languages = [...registry.languageSummary().values()].sort((a, b) =>
          a.name.localeCompare(b.name),
        );
        return json(200, { languages });
      },
    },
    ...extra,
  ];
  return createRouter(routes, log, auth, limits ?? null);
}

function pageSize(raw: string | null): number {
  if (raw === null) return PAGE_DEFAULT;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > PAGE_MAX) {
    throw new CodeexecError('invalid_request', `limit must be a whole number from 1 to ${PAGE_MAX}`);
  }
  return value;
}

function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

function decodeCursor(raw: string | null): number {
  if (raw === null) return 0;
  try {
    const { o } = JSON.parse(Buffer.from(raw, 'base64url').toString()) as { o: unknown };
    if (typeof o === 'number' && Number.isInteger(o) && o >= 0) return o;
  } catch {
    // fall through to the error below
  }
  throw new CodeexecError('invalid_request', 'cursor is not one this server gave out');
}

export function toStatus(job: JobRecord): JobStatus {
  return {
    id: job.id,
    task_id: job.task_id,
    lang: job.lang,
    status: job.status,
    attempt: job.attempt,
    runner_id: job.runner_id,
    session_id: job.session_id,
    created_at: job.created_at,
    started_at: job.started_at,
    finished_at: job.finished_at,
  };
}

export function toExecuteResponse(job: JobRecord): ExecuteResponse {
  return {
    output: job.output,
    exit_code: job.exit_code,
    status: job.status,
    id: job.id,
    stdout: job.stdout,
    stderr: job.stderr,
    signal: job.signal,
    reason: job.reason,
    compile: job.compile,
    error: job.error,
    output_files: job.output_files,
    timings: job.timings,
    ...(job.verification ? { verification: job.verification } : {}),
  };
}
