// How a stored record changes, the same in every JobStore and in the gateway's job book: a patch
// sets the fields it gives (an undefined field means "not given", as JSON would drop it anyway),
// the result must still be a valid JobRecord, and it is a new, deeply frozen record — one handed
// out earlier never changes under its holder.
import * as v from 'valibot';
import { describeIssues, type JobRecord, JobRecordSchema, type JobState } from '../../shared/index.js';
import type { TransitionPatch, UpdatePatch } from './job-store-api.js';
import { StoreError } from './store-errors.js';

/** The patch without its undefined fields. */
export function defined<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** The job after a transition to `to` with `patch` (the caller checks the transition is allowed). */
export function transitioned(job: JobRecord, to: JobState, patch: TransitionPatch): JobRecord {
  return { ...job, ...defined(patch), id: job.id, status: to };
}

/** The job after an update: neither its state nor its owner change. */
export function updated(job: JobRecord, patch: UpdatePatch): JobRecord {
  return { ...job, ...defined(patch), id: job.id, status: job.status, client: job.client };
}

/** Validates a whole record and returns a deeply frozen copy; `invalid_record` if it is not one. */
export function checkedRecord(candidate: JobRecord): JobRecord {
  const parsed = v.safeParse(JobRecordSchema, candidate);
  if (!parsed.success) {
    const problems = describeIssues(parsed.issues).map((p) => `${p.path}: ${p.message}`);
    throw new StoreError('invalid_record', `job ${candidate.id} is not valid: ${problems.join('; ')}`);
  }
  // valibot's output is a fresh deep copy: freezing it leaves the caller's objects alone.
  return deepFreeze(parsed.output);
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
