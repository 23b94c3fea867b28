// What a resuming client is sent before the live rest: the job's kept chunks after its last seen
// seq, or — when this process keeps nothing about the job (it restarted, or evicted the log long
// ago) — a gap of unknown length if the job may have written anything, judged from its record.
import type { JobRecord } from '../../shared/index.js';
import type { OutputEntry, OutputLogs } from './output-log.js';

export function replayFor(logs: OutputLogs, job: JobRecord, afterSeq: number): OutputEntry[] {
  const kept = logs.replay(job.id, afterSeq);
  if (kept !== null) return kept;
  return mayHaveWritten(job)
    ? [{ kind: 'gap', gap: { from_seq: afterSeq + 1, to_seq: null, reason: 'not_retained' } }]
    : [];
}

/** Whether the job may have written output this process did not see. */
function mayHaveWritten(job: JobRecord): boolean {
  if (job.status === 'queued' || job.status === 'running') return job.attempt > 0;
  const compile = job.compile;
  return Boolean(job.stdout || job.stderr || compile?.stdout || compile?.stderr);
}
