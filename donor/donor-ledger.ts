// What the donor has given, kept in its data directory across restarts: jobs done and CPU seconds
// donated, in all and today. "Today" is the caller's local day (a key like '2026-11-29' from its
// clock): the counts for today start again whenever the key changes. Plain data and functions,
// plus loading and saving the file (written whole then renamed; a damaged file is an error that
// names it, not a silent restart from zero).
import * as v from 'valibot';
import { readJsonFile, writeFileAtomic } from './private-file.js';
import { describeIssue } from './settings-file.js';

const count = v.pipe(v.number(), v.integer(), v.minValue(0));
const seconds = v.pipe(v.number(), v.minValue(0));

export const LedgerSchema = v.strictObject({
  version: v.literal(1),
  /** The local day the `_today` counts are for; null before the first. */
  day: v.nullable(v.pipe(v.string(), v.regex(/^\d{4}-\d{2}-\d{2}$/, 'a day YYYY-MM-DD'))),
  jobs_done: count,
  jobs_today: count,
  cpu_seconds: seconds,
  cpu_seconds_today: seconds,
});
export type Ledger = v.InferOutput<typeof LedgerSchema>;

export function emptyLedger(): Ledger {
  return { version: 1, day: null, jobs_done: 0, jobs_today: 0, cpu_seconds: 0, cpu_seconds_today: 0 };
}

/** The local day of `date` as a ledger's day key: '2026-11-29'. */
export function localDayKey(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/**
 * The ledger on `dayKey`: the same ledger on the same day, else today's counts start from zero.
 * Any other day counts as a new one, earlier too: a clock set right after running in the future
 * must not keep today's budget spent until that future day.
 */
export function rollDay(ledger: Ledger, dayKey: string): Ledger {
  if (ledger.day === dayKey) return ledger;
  return { ...ledger, day: dayKey, jobs_today: 0, cpu_seconds_today: 0 };
}

/** The ledger with one more job done on `dayKey`, which used `cpu_ms` of CPU time. */
export function recordJob(ledger: Ledger, job: { cpu_ms: number; dayKey: string }): Ledger {
  const today = rollDay(ledger, job.dayKey);
  const added = Number.isFinite(job.cpu_ms) ? Math.max(0, job.cpu_ms) / 1000 : 0;
  return {
    ...today,
    jobs_done: today.jobs_done + 1,
    jobs_today: today.jobs_today + 1,
    cpu_seconds: toMicroseconds(today.cpu_seconds + added),
    cpu_seconds_today: toMicroseconds(today.cpu_seconds_today + added),
  };
}

/**
 * Seconds kept to the microsecond, so sums of many jobs do not drift (0.1 + 0.2 = 0.30000000000000004)
 * and a fraction of a millisecond per job is not lost either (exact up to 2^53 µs, 285 years).
 */
function toMicroseconds(secondsValue: number): number {
  return Math.round(secondsValue * 1e6) / 1e6;
}

/** The ledger file could not be read or is not a ledger (or a ledger to save is not valid). */
export class LedgerFileError extends Error {
  override name = 'LedgerFileError';
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
    prefix = '',
  ) {
    super(`${file}: ${prefix}${problems.join('; ')}`);
  }
}

/** The ledger in `path`; an empty one when there is no file. LedgerFileError when damaged. */
export async function loadLedger(path: string): Promise<Ledger> {
  const json = await readJsonFile(path, (problems) => new LedgerFileError(path, problems));
  if (json === undefined) return emptyLedger();
  const parsed = v.safeParse(LedgerSchema, json);
  if (!parsed.success) throw new LedgerFileError(path, parsed.issues.map(describeIssue));
  return parsed.output;
}

/** Validates `ledger` (LedgerFileError, nothing written, when invalid), then writes it atomically. */
export async function saveLedger(path: string, ledger: Ledger): Promise<void> {
  const parsed = v.safeParse(LedgerSchema, ledger);
  if (!parsed.success) throw new LedgerFileError(path, parsed.issues.map(describeIssue), 'not saved: ');
  await writeFileAtomic(path, `${JSON.stringify(parsed.output)}\n`);
}
