// How far a runner identity's results can be trusted, from how its verified results went: pure
// bookkeeping (BOINC's adaptive replication). An identity that disagreed with a quorum is
// `doubtful` until it agrees `RECOVERY_STREAK` times in a row: the scheduler offers doubtful
// runners work only when no runner in good standing can take it, so a liar gets little and
// proves itself slowly. The operator can also quarantine an identity: it takes nothing at all.

export interface Reliability {
  /** Verified results that agreed with the accepted one. */
  agreed: number;
  /** Verified results that disagreed with it. */
  disagreed: number;
  /** Agreements since the last disagreement. */
  streak: number;
  last_disagreement_at: string | null;
  quarantined: boolean;
}

/** Agreements in a row that restore good standing after a disagreement. */
export const RECOVERY_STREAK = 10;

export const NEW_RELIABILITY: Readonly<Reliability> = {
  agreed: 0,
  disagreed: 0,
  streak: 0,
  last_disagreement_at: null,
  quarantined: false,
};

export function afterAgreement(record: Reliability): Reliability {
  return { ...record, agreed: record.agreed + 1, streak: record.streak + 1 };
}

export function afterDisagreement(record: Reliability, at: string): Reliability {
  return { ...record, disagreed: record.disagreed + 1, streak: 0, last_disagreement_at: at };
}

export function standingOf(record: Reliability | undefined): 'good' | 'doubtful' {
  if (record === undefined || record.disagreed === 0) return 'good';
  return record.streak >= RECOVERY_STREAK ? 'good' : 'doubtful';
}

/** The share of its verified results that agreed, or null before the first one. */
export function agreementRate(record: Reliability | undefined): number | null {
  if (record === undefined) return null;
  const total = record.agreed + record.disagreed;
  return total === 0 ? null : Math.round((record.agreed / total) * 1000) / 1000;
}
