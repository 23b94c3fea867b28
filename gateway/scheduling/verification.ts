// Verified results, decided: BOINC's quorum over the replicas of one job. Pure — the verifier
// (jobs/verifier.ts) hands it the replicas' outcomes as data and carries out the step it returns:
// wait, start more replicas, accept the result a quorum agrees on, or fail the job.
//
// The rules:
// - results are equal when everything the program produced is (exit code, signal, end reason,
//   stdout, stderr, output files, and the compile stage's); timings and CPU time are not compared;
// - a group of `quorum` equal results is accepted; the replicas in it agreed, the other results
//   disagreed;
// - while no group can still reach the quorum with the replicas running and those the cap still
//   allows, the job fails `unverified`;
// - otherwise just enough replicas run to reach the quorum if they all agree; after any
//   disagreement or lost replica the next one prefers a trusted runner (the tie-breaker);
// - a replica no runner could take (no_runner, runner_rejected) fails the job with that error: a
//   placement that failed once fails again.
import { createHash } from 'node:crypto';
import type { JobRecord } from '../../shared/index.js';

export type ReplicaOutcome =
  | { kind: 'running' }
  /** It ran: `key` identifies its result (resultKey). */
  | { kind: 'result'; key: string }
  /** It ended without a result (runner lost for good, sandbox failed, …): no vote. */
  | { kind: 'error'; code: string; message: string };

export interface ReplicaView {
  jobId: string;
  outcome: ReplicaOutcome;
}

export type VerificationStep =
  | { kind: 'wait' }
  | { kind: 'more'; count: number; preferTrusted: boolean }
  | { kind: 'accept'; winner: string; agreed: string[]; disagreed: string[] }
  | { kind: 'fail'; error: { code: string; message: string }; disagreed: string[] };

const PLACEMENT_ERRORS = new Set(['no_runner', 'runner_rejected']);

/** The next step for a verified job whose replicas stand as given (in the order they started). */
export function nextStep(
  quorum: number,
  maxReplicas: number,
  replicas: readonly ReplicaView[],
): VerificationStep {
  const groups = new Map<string, string[]>();
  let running = 0;
  let troubled = false;
  for (const { jobId, outcome } of replicas) {
    if (outcome.kind === 'running') running++;
    else if (outcome.kind === 'result') {
      const group = groups.get(outcome.key);
      if (group === undefined) groups.set(outcome.key, [jobId]);
      else group.push(jobId);
    } else {
      if (PLACEMENT_ERRORS.has(outcome.code)) {
        return { kind: 'fail', error: { code: outcome.code, message: outcome.message }, disagreed: [] };
      }
      troubled = true;
    }
  }
  let best: string[] = [];
  for (const group of groups.values()) if (group.length > best.length) best = group;
  if (best.length >= quorum) {
    const agreed = new Set(best);
    const disagreed = [...groups.values()].flat().filter((id) => !agreed.has(id));
    return { kind: 'accept', winner: best[0]!, agreed: best, disagreed };
  }
  if (groups.size > 1) troubled = true;
  const missing = quorum - best.length;
  const allowed = maxReplicas - replicas.length;
  if (running + allowed < missing) {
    const results = [...groups.values()].reduce((sum, group) => sum + group.length, 0);
    const lost = replicas.length - running - results;
    return {
      kind: 'fail',
      error: {
        code: 'unverified',
        message:
          `No ${quorum} replicas agreed within ${maxReplicas}: ${results} results in ${groups.size} ` +
          `different groups${lost > 0 ? `, ${lost} replicas without a result` : ''}`,
      },
      disagreed: [],
    };
  }
  if (running >= missing) return { kind: 'wait' };
  return { kind: 'more', count: missing - running, preferTrusted: troubled };
}

/** What a replica produced, as one comparable key (timings and CPU time left out). */
export function resultKey(
  job: Pick<
    JobRecord,
    'status' | 'exit_code' | 'signal' | 'reason' | 'stdout' | 'stderr' | 'output_files' | 'compile'
  >,
): string {
  const compile = job.compile && {
    exit_code: job.compile.exit_code,
    signal: job.compile.signal,
    reason: job.compile.reason,
    stdout: job.compile.stdout,
    stderr: job.compile.stderr,
  };
  const files = job.output_files.map(({ name, content, size, truncated }) => [
    name,
    content,
    size,
    truncated,
  ]);
  const canonical = JSON.stringify([
    job.status,
    job.exit_code,
    job.signal,
    job.reason,
    job.stdout,
    job.stderr,
    files,
    compile,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}
