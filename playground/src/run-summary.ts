// What the status line and the notes say about a run: how it ended (exit code, end reason,
// timings), and every error in plain words. Pure: the output view shows what these return.
import type { EndReason } from '../../shared/job.js';
import type { ExecuteResponse } from '../../shared/rest.js';
import type { RunFailure, RunState } from './run-state.js';

export interface RunSummary {
  /** `ok` exited 0; `failed` any other end; `busy` still going. */
  tone: 'ok' | 'failed' | 'busy' | 'idle';
  /** "Exit code 0", "Cancelled", "Queued…". */
  headline: string;
  /** "exited · queue 12 ms · compile 340 ms · run 64 ms · total 416 ms". */
  details: string[];
}

const REASONS: Record<EndReason, string> = {
  exited: 'exited',
  wall_time: 'time limit (wall clock)',
  cpu_time: 'CPU time limit',
  memory: 'memory limit',
  output_limit: 'output limit: the output was cut and the program stopped',
  signal: 'killed by a signal',
  compile_failed: 'compile error',
  cancelled: 'cancelled',
};

export function endReasonText(result: Pick<ExecuteResponse, 'reason' | 'signal'>): string {
  if (result.reason === null) return 'did not run';
  if (result.reason === 'signal' && result.signal) return `killed by ${result.signal}`;
  return REASONS[result.reason];
}

export function timingsText(timings: ExecuteResponse['timings']): string[] {
  const parts: [string, number | null][] = [
    ['queue', timings.queue_ms],
    ['compile', timings.compile_ms],
    ['run', timings.run_ms],
    ['total', timings.total_ms],
  ];
  return parts.filter(([, ms]) => ms !== null).map(([name, ms]) => `${name} ${formatMs(ms ?? 0)}`);
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function summarize(run: RunState | null): RunSummary {
  if (run === null) return { tone: 'idle', headline: 'Ready', details: ['Ctrl+Enter runs the program'] };
  if (run.reconnect !== null && run.phase !== 'ended') {
    // Quiet: the job runs on at the gateway, and its output continues once the page is back.
    const then = run.phase === 'stopping' ? 'then the program is stopped' : 'the program runs on';
    return { tone: 'busy', headline: 'Reconnecting…', details: [`the connection dropped; ${then}`] };
  }
  switch (run.phase) {
    case 'connecting':
      return { tone: 'busy', headline: 'Connecting…', details: [] };
    case 'sent':
      return { tone: 'busy', headline: 'Sending…', details: [] };
    case 'queued':
      return { tone: 'busy', headline: 'Queued: waiting for a runner…', details: [] };
    case 'running':
      return {
        tone: 'busy',
        headline: run.interactive ? 'Running: type input below' : 'Running…',
        details: run.runner ? [`on ${run.runner}`] : [],
      };
    case 'stopping':
      return { tone: 'busy', headline: 'Stopping…', details: [] };
    case 'ended':
      return run.result ? summarizeResult(run.result) : summarizeFailure(run.failure);
    default: {
      const never: never = run.phase;
      throw new Error(`unknown phase ${never}`);
    }
  }
}

function summarizeResult(result: ExecuteResponse): RunSummary {
  // A program that did not compile did not run: no run time to speak of.
  const timings = timingsText(
    result.reason === 'compile_failed' ? { ...result.timings, run_ms: null } : result.timings,
  );
  if (result.status === 'failed') {
    const error = result.error ?? { code: 'internal', message: 'The job failed' };
    return { tone: 'failed', headline: 'Failed', details: [describeError(error), ...timings] };
  }
  const reason = endReasonText(result);
  const compiler = result.reason === 'compile_failed' ? 'Compiler exit code' : 'Exit code';
  const exit = result.exit_code === null ? 'No exit code' : `${compiler} ${result.exit_code}`;
  const headline =
    result.reason === 'compile_failed'
      ? 'Compile error'
      : result.reason === 'cancelled' || result.status === 'cancelled'
        ? 'Cancelled'
        : exit;
  const ok = result.reason === 'exited' && result.exit_code === 0;
  // What the headline says already (the exit code, or the reason: Compile error, Cancelled) is not repeated.
  const details = [
    ...(headline === exit ? [] : [exit]),
    ...(headline.toLowerCase() === reason ? [] : [reason]),
    ...timings,
  ];
  return { tone: ok ? 'ok' : 'failed', headline, details };
}

function summarizeFailure(failure: RunFailure | null): RunSummary {
  if (failure?.code === 'cancelled')
    return { tone: 'failed', headline: 'Cancelled', details: [failure.message] };
  const error = failure ?? { code: 'internal', message: 'The run ended without a result' };
  return { tone: 'failed', headline: 'Not run', details: [describeError(error)] };
}

/** An error code and the gateway's message, as a sentence for the person at the page. */
export function describeError(error: RunFailure): string {
  const said = error.message.replace(/\.?$/, '.');
  switch (error.code) {
    case 'unknown_language':
      return `Unknown language: ${said}`;
    case 'no_runner':
      return `No runner can run this language now: ${said} Try again once a runner is connected.`;
    case 'queue_full':
      return 'The gateway’s queue is full: try again in a moment.';
    case 'too_many_jobs':
      return `Too many unfinished jobs: ${said} Wait for one to end.`;
    case 'unauthorized':
      return 'The gateway wants a valid API key: enter it with “API key”.';
    case 'limit_exceeded':
      return `A limit is above the gateway’s maximum: ${said}`;
    case 'connection_lost':
      return `The connection to the gateway was lost: ${said} Reconnect to run again.`;
    case 'runner_lost':
      return `The runner went away while running it: ${said}`;
    case 'session_closed':
      return `The session ended before this ran: ${said}`;
    case 'shutting_down':
      return 'The gateway is shutting down: try again shortly.';
    default:
      return `${error.code}: ${said}`;
  }
}
