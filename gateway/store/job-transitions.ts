// Which job state may follow which: the one table every JobStore implementation guards with.
import type { JobState } from '../../shared/index.js';

/** `running → queued` is a re-queue after an infrastructure failure; finished states are final. */
export const JOB_TRANSITIONS: Readonly<Record<JobState, readonly JobState[]>> = {
  queued: ['running', 'failed', 'cancelled'],
  running: ['done', 'failed', 'cancelled', 'queued'],
  done: [],
  failed: [],
  cancelled: [],
};

export function canTransition(from: JobState, to: JobState): boolean {
  return JOB_TRANSITIONS[from].includes(to);
}

export function isUnfinished(state: JobState): boolean {
  return state === 'queued' || state === 'running';
}
