// What the dashboard's cells say: ages ("3 s ago"), durations ("1.2 s"), a job's timings (live
// while it waits or runs), its status badge, a runner's state. Plain functions, no DOM:
// unit-tested.
import type { AdminJob } from '../../shared/admin-protocol.js';
import type { RunnerRow } from './dashboard-state.js';

/** Colours of badges and dots (admin.css). */
export type Tone = 'ok' | 'active' | 'waiting' | 'warn' | 'bad' | 'muted';

/** How long ago: "now", "3 s ago", "4 min ago", "2 h ago", "3 d ago". */
export function formatAge(ms: number): string {
  const s = Math.floor(Math.max(0, ms) / 1000);
  if (s < 1) return 'now';
  if (s < 60) return `${s} s ago`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}

/** A duration: "—" for none, "45 ms", "1.2 s", "12 s", "1 min 5 s", "2 h 3 min". */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  const v = Math.max(0, ms);
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 10_000) return `${(Math.floor(v / 100) / 10).toFixed(1)} s`;
  const s = Math.floor(v / 1000);
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return s % 60 === 0 ? `${minutes} min` : `${minutes} min ${s % 60} s`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
}

/** One timing of a job: how long, and whether it is still counting (the job waits or runs). */
export interface Timing {
  ms: number | null;
  live: boolean;
}

/** The queue wait, run time and total of a job at `serverNow`: live ones count up on the page's clock. */
export function jobTimings(job: AdminJob, serverNow: number): { queue: Timing; run: Timing; total: Timing } {
  const created = Date.parse(job.created_at);
  const started = job.started_at === null ? null : Date.parse(job.started_at);
  const since = (from: number) => Math.max(0, serverNow - from);
  switch (job.status) {
    case 'queued':
      return {
        queue: { ms: since(created), live: true },
        run: { ms: null, live: false },
        total: { ms: since(created), live: true },
      };
    case 'running':
      return {
        queue: { ms: job.timings.queue_ms ?? (started === null ? null : started - created), live: false },
        run: { ms: started === null ? null : since(started), live: true },
        total: { ms: since(created), live: true },
      };
    default: {
      const finished = job.finished_at === null ? null : Date.parse(job.finished_at);
      const run = job.timings.run_ms === null ? null : job.timings.run_ms + (job.timings.compile_ms ?? 0);
      return {
        queue: { ms: job.timings.queue_ms, live: false },
        run: { ms: run, live: false },
        total: { ms: job.timings.total_ms ?? (finished === null ? null : finished - created), live: false },
      };
    }
  }
}

/** A job's status as a badge: "done", "exit 1", "wall time", "failed: runner_lost", … */
export function jobBadge(job: AdminJob): { label: string; tone: Tone } {
  switch (job.status) {
    case 'queued':
      return { label: job.attempt > 0 ? 'requeued' : 'queued', tone: 'waiting' };
    case 'running':
      return { label: 'running', tone: 'active' };
    case 'cancelled':
      return { label: 'cancelled', tone: 'muted' };
    case 'failed':
      return { label: job.error ? `failed: ${job.error}` : 'failed', tone: 'bad' };
    case 'done':
      if (job.reason === null || job.reason === 'exited') {
        return job.exit_code === 0 || job.exit_code === null
          ? { label: 'done', tone: 'ok' }
          : { label: `exit ${job.exit_code}`, tone: 'warn' };
      }
      if (job.reason === 'cancelled') return { label: 'cancelled', tone: 'muted' };
      return { label: job.reason.replace(/_/g, ' '), tone: 'warn' };
    default: {
      const never: never = job.status;
      return { label: String(never), tone: 'muted' };
    }
  }
}

/** A runner's state in a word: connected, paused, draining, quarantined, disconnected. */
export function runnerState(row: RunnerRow): { label: string; tone: Tone } {
  if (!row.connected) return { label: 'disconnected', tone: 'bad' };
  switch (row.state) {
    case 'ready':
      return { label: 'connected', tone: 'ok' };
    case 'paused':
      return { label: 'paused', tone: 'muted' };
    case 'draining':
      return { label: 'draining', tone: 'warn' };
    case 'quarantined':
      return { label: 'quarantined', tone: 'bad' };
    default: {
      const never: never = row.state;
      return { label: String(never), tone: 'muted' };
    }
  }
}

/**
 * The runner's last heartbeat as the table says it ("3 s ago"; "left 2 min ago" once it is gone),
 * and whether it is late: silent for more than two heartbeat intervals (at three the gateway drops it).
 */
export function heartbeat(
  row: RunnerRow,
  serverNow: number,
  heartbeatMs: number,
): { text: string; late: boolean } {
  if (!row.connected)
    return { text: `left ${formatAge(serverNow - (row.left_at ?? serverNow))}`, late: false };
  const age = serverNow - Date.parse(row.last_seen_at);
  return { text: formatAge(age), late: age > 2 * heartbeatMs };
}

/** A job id in a narrow cell: its first 8 characters (a UUID's first group). */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}
