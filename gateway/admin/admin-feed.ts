// What the operator's dashboard sees, live (docs/admin.md): a snapshot for each new subscriber,
// then what JobEvents announce, coalesced into at most one frame of each kind (runners, queue,
// jobs) per window, so a burst of 500 jobs a second costs a browser a few small frames. Runners
// are compared with what was last sent, whole views: what raises no event (a heartbeat, a
// quarantine) is caught by a slower refresh. It listens only while someone subscribes, and knows
// nothing of sockets: admin-socket.ts puts it on one.
import {
  ADMIN_FRAME_INTERVAL_MS,
  ADMIN_RECENT_JOBS,
  type AdminFrame,
  type AdminJob,
  type JobRecord,
  type Logger,
  type QueueDepth,
  type RunnerView,
} from '../../shared/index.js';
import type { JobEvents } from '../events/job-events.js';
import type { Clock, Timer } from '../scheduling/clock.js';
import type { JobStore } from '../store/job-store-api.js';

export interface AdminFeedSources {
  events: Pick<JobEvents, 'on'>;
  /** The connected runners as the operator sees them (runner-views.ts). */
  runners: () => RunnerView[];
  /** Jobs waiting for a runner, by language. */
  queuedByLanguage: () => ReadonlyMap<string, number>;
  /** Where the snapshot's recent jobs come from. */
  store: Pick<JobStore, 'list'>;
  clock: Clock;
  log: Logger;
  /** The runners' heartbeat interval (the page tells a late runner by it). */
  heartbeatMs: number;
  /** The coalescing window (default ADMIN_FRAME_INTERVAL_MS). */
  intervalMs?: number;
  /** How often runners are compared without an event, for heartbeats and quarantines (default 1 s). */
  refreshMs?: number;
}

/** A job as the dashboard lists it: never its code, input or output. */
export function toAdminJob(job: JobRecord): AdminJob {
  return {
    id: job.id,
    lang: job.lang,
    status: job.status,
    reason: job.reason,
    exit_code: job.exit_code,
    error: job.error?.code ?? null,
    client: job.client,
    runner: job.runner_id,
    attempt: job.attempt,
    created_at: job.created_at,
    started_at: job.started_at,
    finished_at: job.finished_at,
    timings: { ...job.timings },
  };
}

/**
 * Newest first by creation, at most ADMIN_RECENT_JOBS. The sort is stable: jobs created in the
 * same millisecond keep the order they came in (give the newest first).
 */
export function newestJobs(jobs: Iterable<AdminJob>, limit = ADMIN_RECENT_JOBS): AdminJob[] {
  return [...jobs]
    .sort((a, b) => (a.created_at === b.created_at ? 0 : a.created_at < b.created_at ? 1 : -1))
    .slice(0, limit);
}

/** The depth as a plain object, languages in order (so equal depths have equal JSON). */
function queueOf(depth: ReadonlyMap<string, number>): QueueDepth {
  const out: QueueDepth = {};
  for (const lang of [...depth.keys()].sort()) {
    const n = depth.get(lang) ?? 0;
    if (n > 0) out[lang] = n;
  }
  return out;
}

/** Receives the feed's frames as JSON text, in order. */
export type AdminSend = (text: string) => void;

interface Subscriber {
  send: AdminSend;
  /** Frames flushed while its snapshot's jobs were being read: sent right after the snapshot. */
  held: string[] | null;
}

export class AdminFeed {
  readonly #s: AdminFeedSources;
  readonly #intervalMs: number;
  readonly #refreshMs: number;
  readonly #subscribers = new Set<Subscriber>();
  #unlisten: (() => void)[] = [];
  /** What everyone was last sent: the next frames are the differences from it. */
  #sentRunners = new Map<string, { view: RunnerView; json: string }>();
  #sentQueue: QueueDepth = {};
  #sentQueueJson = '{}';
  #runnersDirty = false;
  #queueDirty = false;
  /** Jobs changed since the last frame, latest state of each. */
  #jobs = new Map<string, AdminJob>();
  /** Why runners left, until the frame that says so. */
  #leftReasons = new Map<string, string>();
  #flushTimer: Timer | null = null;
  #refreshTimer: Timer | null = null;
  #lastFlush = Number.NEGATIVE_INFINITY;

  constructor(sources: AdminFeedSources) {
    this.#s = sources;
    this.#intervalMs = sources.intervalMs ?? ADMIN_FRAME_INTERVAL_MS;
    this.#refreshMs = sources.refreshMs ?? 1_000;
  }

  /** Subscribers now. */
  get size(): number {
    return this.#subscribers.size;
  }

  /**
   * Sends `send` a snapshot, then every frame after it. The snapshot's runners and queue are what
   * everyone was last sent, so the frames that follow apply to it exactly; its jobs are read from
   * the store, and frames flushed meanwhile wait behind it (the store read sees every change made
   * before it, and those frames only later ones). Returns the function that stops it.
   */
  subscribe(send: AdminSend): () => void {
    if (this.#subscribers.size === 0) this.#start();
    const subscriber: Subscriber = { send, held: [] };
    this.#subscribers.add(subscriber);
    const runners = [...this.#sentRunners.values()].map((entry) => entry.view);
    const queue = this.#sentQueue;
    void this.#recentJobs().then((jobs) => {
      const held = subscriber.held;
      if (!this.#subscribers.has(subscriber) || held === null) return;
      subscriber.held = null;
      const snapshot: AdminFrame = {
        type: 'snapshot',
        at: this.#now(),
        heartbeat_ms: this.#s.heartbeatMs,
        runners,
        queue,
        jobs,
      };
      subscriber.send(JSON.stringify(snapshot));
      for (const text of held) subscriber.send(text);
    });
    return () => {
      if (!this.#subscribers.delete(subscriber)) return;
      if (this.#subscribers.size === 0) this.#stop();
    };
  }

  /** Gateway shutdown. */
  close(): void {
    this.#subscribers.clear();
    this.#stop();
  }

  #start(): void {
    const { events } = this.#s;
    this.#sentRunners = new Map(
      this.#s.runners().map((view) => [view.name, { view, json: JSON.stringify(view) }]),
    );
    this.#sentQueue = queueOf(this.#s.queuedByLanguage());
    this.#sentQueueJson = JSON.stringify(this.#sentQueue);
    const job = ({ job }: { job: JobRecord }) => {
      // Starting and ending change a runner's slots and jobs done as well.
      this.#runnersDirty = true;
      // A verified job's replicas are internal (GET /execute does not list them either).
      if (job.replica_of === null) this.#jobs.set(job.id, toAdminJob(job));
      this.#schedule();
    };
    const runners = () => {
      this.#runnersDirty = true;
      this.#schedule();
    };
    this.#unlisten = [
      events.on('job.queued', job),
      events.on('job.started', job),
      events.on('job.requeued', job),
      events.on('job.finished', job),
      events.on('runner.joined', runners),
      events.on('runner.changed', runners),
      events.on('runner.draining', runners),
      events.on('runner.left', ({ runner, reason }) => {
        this.#leftReasons.set(runner.name, reason);
        runners();
      }),
      events.on('queue.depth', () => {
        this.#queueDirty = true;
        this.#schedule();
      }),
    ];
    this.#refresh();
  }

  #stop(): void {
    for (const stop of this.#unlisten) stop();
    this.#unlisten = [];
    this.#flushTimer?.cancel();
    this.#refreshTimer?.cancel();
    this.#flushTimer = null;
    this.#refreshTimer = null;
    this.#jobs.clear();
    this.#leftReasons.clear();
    this.#sentRunners.clear();
    this.#runnersDirty = false;
    this.#queueDirty = false;
  }

  #refresh(): void {
    this.#refreshTimer = this.#s.clock.after(this.#refreshMs, () => {
      this.#runnersDirty = true;
      this.#schedule();
      this.#refresh();
    });
  }

  /**
   * A flush at the end of the window that began with the last one; never in the middle of the
   * change that called: the dispatcher may be half-way through it.
   */
  #schedule(): void {
    if (this.#flushTimer !== null) return;
    const wait = Math.max(0, this.#lastFlush + this.#intervalMs - this.#s.clock.now());
    this.#flushTimer = this.#s.clock.after(wait, () => this.#flush());
  }

  #flush(): void {
    this.#flushTimer = null;
    this.#lastFlush = this.#s.clock.now();
    const frames: AdminFrame[] = [];
    if (this.#runnersDirty) {
      this.#runnersDirty = false;
      const frame = this.#runnersFrame();
      if (frame) frames.push(frame);
    }
    if (this.#queueDirty) {
      this.#queueDirty = false;
      const queue = queueOf(this.#s.queuedByLanguage());
      const json = JSON.stringify(queue);
      if (json !== this.#sentQueueJson) {
        this.#sentQueue = queue;
        this.#sentQueueJson = json;
        frames.push({ type: 'queue', at: this.#now(), queue });
      }
    }
    if (this.#jobs.size > 0) {
      // Only the newest matter: the page keeps the newest ADMIN_RECENT_JOBS of all it knows.
      // The map holds them in the order they first changed: the last ones came last.
      frames.push({ type: 'jobs', at: this.#now(), jobs: newestJobs([...this.#jobs.values()].reverse()) });
      this.#jobs.clear();
    }
    if (frames.length === 0) return;
    const texts = frames.map((frame) => JSON.stringify(frame));
    // A copy: a subscriber that is too slow is dropped (and unsubscribes) while we deliver.
    for (const subscriber of [...this.#subscribers]) {
      for (const text of texts) {
        if (subscriber.held) subscriber.held.push(text);
        else subscriber.send(text);
      }
    }
  }

  #runnersFrame(): AdminFrame | null {
    const changed: RunnerView[] = [];
    const now = new Map<string, { view: RunnerView; json: string }>();
    for (const view of this.#s.runners()) {
      const json = JSON.stringify(view);
      now.set(view.name, { view, json });
      if (this.#sentRunners.get(view.name)?.json !== json) changed.push(view);
    }
    const left = [...this.#sentRunners.keys()]
      .filter((name) => !now.has(name))
      .map((name) => ({ name, reason: this.#leftReasons.get(name) ?? 'disconnected' }));
    this.#leftReasons.clear();
    this.#sentRunners = now;
    if (changed.length === 0 && left.length === 0) return null;
    return { type: 'runners', at: this.#now(), runners: changed, left };
  }

  async #recentJobs(): Promise<AdminJob[]> {
    try {
      // Twice as many: replicas of verified jobs are stored among them but not listed.
      // The store lists newest first already.
      const page = await this.#s.store.list({}, 0, ADMIN_RECENT_JOBS * 2);
      return page.jobs
        .filter((job) => job.replica_of === null)
        .slice(0, ADMIN_RECENT_JOBS)
        .map(toAdminJob);
    } catch (err) {
      this.#s.log.warn({ err }, 'the dashboard snapshot could not read recent jobs');
      return [];
    }
  }

  #now(): string {
    return new Date(this.#s.clock.now()).toISOString();
  }
}
