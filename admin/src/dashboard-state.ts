// The dashboard's state and how each frame of the gateway's socket changes it (docs/admin.md):
// runners by name (one that left stays a while, marked disconnected), the queue by language, the
// newest jobs. Pure functions on plain data, no DOM: unit-tested.
import {
  ADMIN_RECENT_JOBS,
  type AdminFrame,
  type AdminJob,
  type QueueDepth,
} from '../../shared/admin-protocol.js';
import type { RunnerView } from '../../shared/rest.js';

/** A runner the page knows: connected, or gone (then `left_at` says when, by the gateway's clock). */
export interface RunnerRow extends RunnerView {
  connected: boolean;
  left_at: number | null;
  left_reason: string | null;
}

export interface DashboardState {
  /** False until the first snapshot. */
  synced: boolean;
  runners: ReadonlyMap<string, RunnerRow>;
  queue: QueueDepth;
  /** Newest first by creation, at most ADMIN_RECENT_JOBS. */
  jobs: readonly AdminJob[];
  heartbeatMs: number;
  /** The gateway's clock minus this page's, as of the last frame: ages are on the gateway's clock. */
  skewMs: number;
}

/** How long a runner that left stays in the table, marked disconnected. */
export const DISCONNECTED_KEEP_MS = 10 * 60_000;

export const EMPTY_STATE: DashboardState = {
  synced: false,
  runners: new Map(),
  queue: {},
  jobs: [],
  heartbeatMs: 5_000,
  skewMs: 0,
};

const connected = (view: RunnerView): RunnerRow => ({
  ...view,
  connected: true,
  left_at: null,
  left_reason: null,
});

/** The state after `frame`, received when this page's clock read `receivedAt`. */
export function applyFrame(state: DashboardState, frame: AdminFrame, receivedAt: number): DashboardState {
  if (frame.type === 'error') return state;
  const at = Date.parse(frame.at);
  const skewMs = Number.isNaN(at) ? state.skewMs : at - receivedAt;
  switch (frame.type) {
    case 'snapshot':
      return {
        synced: true,
        runners: new Map(frame.runners.map((view) => [view.name, connected(view)])),
        queue: frame.queue,
        jobs: mergeJobs([], frame.jobs),
        heartbeatMs: frame.heartbeat_ms,
        skewMs,
      };
    case 'runners': {
      const runners = new Map(state.runners);
      for (const view of frame.runners) runners.set(view.name, connected(view));
      for (const { name, reason } of frame.left) {
        const known = runners.get(name);
        // One the page never saw (it joined and left between two frames) is not news.
        if (known) runners.set(name, { ...known, connected: false, left_at: at, left_reason: reason });
      }
      return { ...state, runners, skewMs };
    }
    case 'queue':
      return { ...state, queue: frame.queue, skewMs };
    case 'jobs':
      return { ...state, jobs: mergeJobs(state.jobs, frame.jobs), skewMs };
    default: {
      const never: never = frame;
      throw new Error(`unknown frame ${JSON.stringify(never)}`);
    }
  }
}

/**
 * `incoming` (newest first) replaces the jobs of the same id; the newest ADMIN_RECENT_JOBS by
 * creation stay. Jobs created in the same millisecond keep the order they came in, new ones first.
 */
export function mergeJobs(known: readonly AdminJob[], incoming: readonly AdminJob[]): AdminJob[] {
  const ids = new Set(incoming.map((job) => job.id));
  return [...incoming, ...known.filter((job) => !ids.has(job.id))]
    .sort((a, b) => (a.created_at === b.created_at ? 0 : a.created_at < b.created_at ? 1 : -1))
    .slice(0, ADMIN_RECENT_JOBS);
}

/** The runners to show at `serverNow`, by name: connected ones, and ones that left not long ago. */
export function visibleRunners(state: DashboardState, serverNow: number): RunnerRow[] {
  return [...state.runners.values()]
    .filter((row) => row.connected || serverNow - (row.left_at ?? serverNow) < DISCONNECTED_KEEP_MS)
    .sort((a, b) => a.name.localeCompare(b.name));
}

export interface QueueRow {
  lang: string;
  depth: number;
  /** Of the longest queue: the bar's length, 0–1. */
  share: number;
}

/** Every language a connected runner offers or a job waits for, with its depth, by name. */
export function queueRows(state: DashboardState): QueueRow[] {
  const langs = new Set(Object.keys(state.queue));
  for (const row of state.runners.values())
    if (row.connected) for (const lang of row.languages) langs.add(lang);
  const longest = Math.max(1, ...Object.values(state.queue));
  return [...langs].sort().map((lang) => {
    const depth = state.queue[lang] ?? 0;
    return { lang, depth, share: depth / longest };
  });
}

/** Totals for the figures at the top: runners connected, slots in use of all, jobs waiting. */
export function totals(state: DashboardState): {
  runners: number;
  used: number;
  slots: number;
  queued: number;
} {
  let runners = 0;
  let used = 0;
  let slots = 0;
  for (const row of state.runners.values()) {
    if (!row.connected) continue;
    runners++;
    used += Math.min(row.load, row.slots);
    slots += row.slots;
  }
  const queued = Object.values(state.queue).reduce((sum, n) => sum + n, 0);
  return { runners, used, slots, queued };
}
