// The job store seam: what the gateway asks of any store of jobs (lowdb today, PostgreSQL later).
// Every implementation passes the suite in job-store-conformance.ts.
//
// Contract, for every method:
// - Order: writes (insert, transition, update, prune) take effect in the order they are called,
//   from the moment of the call: a read issued after a write was called — even before its promise
//   settled — sees it, and a write never overtakes an earlier one on disk.
// - Durable: a write's promise resolves only once the change would survive the process being
//   killed (kill -9) right after; whether it also survives a power loss is the implementation's
//   documented option (LowdbJobStore: `fsync`).
// - Errors reject with a StoreError whose `code` (store-errors.ts) says what went wrong; a rejected
//   guard (duplicate_id, not_found, forbidden_transition, invalid_record) changed nothing.
// - Records returned belong to the store: an implementation returns deep copies (PostgreSQL) or
//   deeply frozen objects (LowdbJobStore); either way mutating one never changes stored data, and a
//   record already returned is never changed by later writes (a write yields a new record).
import type { JobRecord, JobState } from '../../shared/index.js';

export interface JobFilter {
  task_id?: string;
  client?: string;
}

export interface JobPage {
  jobs: JobRecord[];
  /** More jobs match past this page. */
  more: boolean;
}

/**
 * Fields a transition may set with the state. The id is the key; the state is `to`. A field given
 * as undefined is left as it was (JSON could not store it anyway); null is how a field is cleared.
 */
export type TransitionPatch = Partial<Omit<JobRecord, 'id' | 'status'>>;
/** Fields an update may set: neither the state (that is a transition) nor the owner; undefined as above. */
export type UpdatePatch = Partial<Omit<JobRecord, 'id' | 'status' | 'client'>>;

export interface JobStore {
  /**
   * Reads what is stored and readies the store; call once, before anything else. Damaged data
   * rejects with StoreCorruptError (a message naming the file and the problem) and is left as it
   * was: the store never starts empty over data it could not read.
   */
  open(): Promise<void>;
  /** Waits for every write called so far to be durable, then releases files and connections. */
  close(): Promise<void>;
  /** Resolves when every write called so far is durable (rejects if one of them failed). */
  flush(): Promise<void>;

  /** Stores a new job. Rejects `duplicate_id` if its id is stored, `invalid_record` if malformed. */
  insert(job: JobRecord): Promise<void>;
  /**
   * Moves a job to `to` and sets the patch's fields, in one write, if JOB_TRANSITIONS allows it
   * (`forbidden_transition` otherwise; `not_found` for an unknown id). Resolves with the new record.
   */
  transition(id: string, to: JobState, patch?: TransitionPatch): Promise<JobRecord>;
  /**
   * Sets fields of a job in any state (e.g. its callback delivery). Resolves with the new record, or
   * undefined when no such job is stored (pruned meanwhile): there is nothing left to record on.
   */
  update(id: string, patch: UpdatePatch): Promise<JobRecord | undefined>;
  /**
   * Removes finished jobs that ended before `finishedBefore`, then the oldest finished ones past
   * `keep` (oldest by creation). Queued and running jobs are never removed. Resolves with how many
   * went, once their removal is durable.
   */
  prune(finishedBefore: Date, keep: number): Promise<number>;

  get(id: string): Promise<JobRecord | undefined>;
  /** Jobs matching every given filter field, newest (by creation) first, `limit` from `offset`. */
  list(filter: JobFilter, offset: number, limit: number): Promise<JobPage>;
  /** Queued and running jobs, oldest first: what a restarted gateway must pick up again. */
  unfinished(): Promise<JobRecord[]>;
  /** Finished jobs whose callback.state is 'pending': deliveries a restarted gateway resumes. */
  pendingCallbacks(): Promise<JobRecord[]>;
  /** How many jobs are stored. */
  size(): Promise<number>;
  /**
   * Jobs waiting for a runner (admission's queue cap). Like unfinishedOf, a count at one moment:
   * two submissions checking it concurrently may both pass a cap by one each.
   */
  queuedCount(): Promise<number>;
  /** Queued and running jobs of one client (admission's per-client cap). */
  unfinishedOf(client: string): Promise<number>;
}
