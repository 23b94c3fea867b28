// The job store's errors: one class with a stable code from a closed table, so callers and the
// conformance suite branch on `code`, whichever implementation threw.
import { CodeexecError } from '../../shared/index.js';

export const STORE_ERRORS = {
  duplicate_id: 'a job with this id is already stored',
  not_found: 'no job with this id is stored',
  forbidden_transition: 'the job may not move from its state to the one asked',
  invalid_record: 'the record (after the patch) is not a valid JobRecord; nothing was written',
  corrupt: 'the stored data is damaged; the store refuses to open rather than replace it',
  write_failed: 'a write did not reach the disk; the store accepts no more writes until reopened',
  closed: 'the store is closed',
  unavailable:
    'the database could not be reached or did not answer in time; a write it cut short may or may not have been applied',
  database_error:
    'the database refused the request for another reason (its message says why); nothing was written',
} as const;
export type StoreErrorCode = keyof typeof STORE_ERRORS;

export class StoreError extends Error {
  override name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Opening found damaged data. Thrown by open() only; the files are left as they were. */
export class StoreCorruptError extends StoreError {
  override name = 'StoreCorruptError';
  constructor(message: string) {
    super('corrupt', message);
  }
}

/**
 * What a client is told of a store failure it can do something about: an unreachable database
 * is 503 store_unavailable (retry later); anything else is not the client's (null: internal).
 */
export function clientErrorOf(err: unknown): CodeexecError | null {
  if (err instanceof StoreError && err.code === 'unavailable') {
    return new CodeexecError('store_unavailable', `The job store cannot be reached: ${err.message}`);
  }
  return null;
}
