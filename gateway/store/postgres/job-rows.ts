// How a JobRecord is a row of the `jobs` table (migrations/0001_jobs.sql) and back: the typed
// columns the store queries by, copied from the record, and the whole record as JSON, parsed again
// through JobRecordSchema when read (storage is a boundary).
import * as v from 'valibot';
import { describeIssues, type JobRecord, JobRecordSchema } from '../../../shared/index.js';
import { StoreError } from '../store-errors.js';

/** The states of a queued or running job, as SQL. */
export const UNFINISHED = `('queued', 'running')`;
/** The columns every write sets, in the order of columnsOf. */
export const COLUMNS =
  'id, status, client, task_id, created_at, finished_at, callback_state, runner_id, record';
/** The values of COLUMNS for a record, in order: the typed copies and the whole record. */
export function columnsOf(job: JobRecord): unknown[] {
  return [
    job.id,
    job.status,
    job.client ?? null,
    job.task_id,
    job.created_at,
    job.finished_at,
    job.callback?.state ?? null,
    job.runner_id,
    // The whole record, as JSON text (the column is `json`).
    JSON.stringify(job),
  ];
}

/** A stored record, parsed as a storage boundary: a fresh copy with every default filled in. */
export function recordOf(row: { record: unknown }): JobRecord {
  const parsed = v.safeParse(JobRecordSchema, row.record);
  if (!parsed.success) {
    const id = (row.record as { id?: unknown } | null)?.id;
    const problems = describeIssues(parsed.issues)
      .slice(0, 3)
      .map((p) => `${p.path}: ${p.message}`);
    throw new StoreError(
      'corrupt',
      `job ${String(id)} in the jobs table is not a valid job record (${problems.join('; ')})`,
    );
  }
  return parsed.output;
}
