// A change to a runner identity's reliability as data (what ReliabilityBook keeps pending until its
// storage has it, and what the PostgreSQL storage turns into one atomic statement), applied with
// scheduling/reliability.ts's rules; and how long to wait before trying a failed write again.
import {
  afterAgreement,
  afterDisagreement,
  NEW_RELIABILITY,
  type Reliability,
} from '../scheduling/reliability.js';

export type ReliabilityChange =
  | { identity: string; kind: 'agreed' }
  | { identity: string; kind: 'disagreed'; at: string }
  | { identity: string; kind: 'quarantine'; quarantined: boolean };

/** `record` (none yet: a new one) after `change`. */
export function afterChange(record: Reliability | undefined, change: ReliabilityChange): Reliability {
  const before = record ?? { ...NEW_RELIABILITY };
  switch (change.kind) {
    case 'agreed':
      return afterAgreement(before);
    case 'disagreed':
      return afterDisagreement(before, change.at);
    case 'quarantine':
      return { ...before, quarantined: change.quarantined };
    default:
      throw new Error(`unknown reliability change ${(change as { kind: unknown }).kind}`);
  }
}

/** A new map: `records` with `changes` applied in order (`records` is left as it is). */
export function withChanges(
  records: ReadonlyMap<string, Reliability>,
  changes: readonly ReliabilityChange[],
): Map<string, Reliability> {
  const result = new Map(records);
  for (const change of changes) result.set(change.identity, afterChange(result.get(change.identity), change));
  return result;
}

const FIRST_RETRY_MS = 1_000;
const LAST_RETRY_MS = 30_000;

/** The wait before the next try after `failures` failed writes in a row (1 s, 2 s, 4 s … 30 s). */
export function retryDelayMs(failures: number): number {
  return Math.min(LAST_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, failures - 1));
}
