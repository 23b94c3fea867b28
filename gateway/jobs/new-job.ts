// The record of a job just accepted: what the client asked for, and every result field empty.
import { randomUUID } from 'node:crypto';
import type { AsyncRequest, JobRecord } from '../../shared/index.js';

export interface NewJobOptions {
  /** Canonical language name (aliases resolved). */
  lang: string;
  interactive: boolean;
  /** Who submitted it (see ClientAuth), or null when nobody is tracked. */
  client: string | null;
  /** The session it runs in (its sandbox, after its earlier executions), or null. */
  sessionId?: string | null;
}

export function newJob(
  request: AsyncRequest,
  { lang, interactive, client, sessionId = null }: NewJobOptions,
): JobRecord {
  return {
    id: randomUUID(),
    task_id: request.task_id ?? null,
    lang,
    code: request.code,
    output: '',
    exit_code: null,
    status: 'queued',
    stdout: '',
    stderr: '',
    signal: null,
    reason: null,
    compile: null,
    error: null,
    stdin: request.stdin ?? null,
    args: request.args ?? [],
    files: request.files ?? [],
    limits: request.limits ?? null,
    compile_limits: request.compile_limits ?? null,
    interactive,
    output_files: [],
    labels: request.labels ?? [],
    callback_url: request.callback_url ?? null,
    callback: request.callback_url
      ? { state: 'pending', attempts: 0, last_error: null, delivered_at: null }
      : null,
    queue_timeout_ms: request.queue_timeout_ms ?? null,
    session_id: sessionId,
    client,
    runner_id: null,
    attempt: 0,
    created_at: new Date().toISOString(),
    started_at: null,
    finished_at: null,
    timings: { queue_ms: null, compile_ms: null, run_ms: null, total_ms: null },
    output_capped: false,
    trust: request.trust ?? 'any',
    verify: request.verify ?? null,
    verification: null,
    replica_of: null,
  };
}
