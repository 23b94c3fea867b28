// JobEvents: the gateway's typed event stream. The dispatcher and the runner registry emit what
// happens to jobs and runners; everything that reacts consumes it — the REST and WebSocket layers
// (a job's start, output and end), callbacks (a job's end), logs, and later metrics and the
// operator's dashboard. A job's own events (start, stage, output, end) reach that job's
// watchers through the bus (bus/bus.ts), so a watcher on another gateway process could follow it.
import type { JobRecord, OutputGap, StageResult } from '../../shared/index.js';
import type { Bus, JobMessage } from '../bus/bus.js';
import { SeqGaps } from './seq-gaps.js';

/** What a runner looks like in events: enough for logs, metrics and a dashboard. */
export interface RunnerInfo {
  name: string;
  version: string;
  languages: string[];
  building: string[];
  labels: string[];
  slots: number;
  tier: 'trusted' | 'donor';
}

export interface OutputEvent {
  stream: 'stdout' | 'stderr';
  /** The job's chunk number (gateway/output/output-log.ts says how it is made). */
  seq: number;
  data: string;
}

/** Every event, by name, with its payload. */
export interface JobEventMap {
  'job.queued': { job: JobRecord };
  'job.started': { job: JobRecord };
  'job.output': { jobId: string; lang: string; event: OutputEvent };
  'job.finished': { job: JobRecord };
  /** It waited a whole queue timeout and waits on: its runners are busy, or its image is being built. */
  'job.waiting': { job: JobRecord; because: 'busy' | 'building' };
  /** It ran on a runner that went away (or ended with an infrastructure error): it waits again. */
  'job.requeued': { job: JobRecord; runner: string; reason: string };
  'runner.joined': { runner: RunnerInfo };
  /** `final`: it left on purpose (its jobs were requeued at once); otherwise their leases run. */
  'runner.left': { runner: RunnerInfo; final: boolean; reason: string };
  'runner.draining': { runner: RunnerInfo };
  /** Its languages or capacity changed (an image built, paused, resumed, slots). */
  'runner.changed': { runner: RunnerInfo; paused: boolean };
  /** Jobs waiting for a runner, after every change of the queue. */
  'queue.depth': { depth: number };
}

export type JobEventName = keyof JobEventMap;
type Listener<K extends JobEventName> = (payload: JobEventMap[K]) => void;

/** Someone following one job live: its start, its stages, its output, its end. */
export interface Watcher {
  start?: (job: JobRecord) => void;
  /** A compiled language's run stage begins: output from here on is the program's. */
  stage?: (stage: 'compile' | 'run', compile?: StageResult) => void;
  output?: (event: OutputEvent) => void;
  /** Chunks that will not come: the runner's link lost them on the way. */
  gap?: (gap: OutputGap) => void;
  end: (job: JobRecord) => void;
}

export class JobEvents {
  readonly #listeners = new Map<JobEventName, Set<(payload: never) => void>>();
  readonly #bus: Bus;
  /** Emitting on the hot path (one job.output per chunk) costs a lookup when nobody listens. */
  #outputListeners = 0;

  constructor(bus: Bus) {
    this.#bus = bus;
  }

  /** Listens to every event of one kind. Returns the function that stops listening. */
  on<K extends JobEventName>(name: K, listener: Listener<K>): () => void {
    let set = this.#listeners.get(name);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    const entry = listener as (payload: never) => void;
    set.add(entry);
    if (name === 'job.output') this.#outputListeners++;
    return () => {
      if (set.delete(entry) && name === 'job.output') this.#outputListeners--;
    };
  }

  emit<K extends JobEventName>(name: K, payload: JobEventMap[K]): void {
    if (name === 'job.output' && this.#outputListeners === 0) return;
    const set = this.#listeners.get(name);
    if (set === undefined) return;
    for (const listener of set) (listener as Listener<K>)(payload);
  }

  /**
   * Follows one job until it ends (its watchers hear of it through the bus). The caller checks
   * first whether it has ended already. Returns the function that stops following it.
   */
  watch(jobId: string, watcher: Watcher): () => void {
    let unsubscribe = () => {};
    // Chunks lost between the job's gateway and this one (a bus restarting) are told as gaps.
    const gaps = new SeqGaps();
    unsubscribe = this.#bus.subscribe(jobId, (message: JobMessage) => {
      switch (message.type) {
        case 'started':
          gaps.started(message.job.attempt);
          watcher.start?.(message.job);
          return;
        case 'stage':
          watcher.stage?.(message.stage, message.compile);
          return;
        case 'output': {
          const skipped = gaps.arrived(message.event.seq);
          if (skipped !== null) watcher.gap?.(skipped);
          watcher.output?.(message.event);
          return;
        }
        case 'gap':
          gaps.announced(message.gap);
          watcher.gap?.(message.gap);
          return;
        case 'end':
          unsubscribe();
          watcher.end(message.job);
          return;
        default: {
          const never: never = message;
          throw new Error(`unknown job message ${JSON.stringify(never)}`);
        }
      }
    });
    return () => unsubscribe();
  }

  /** A job's own event, for its watchers (wherever they are) and for this process's listeners. */
  publish(job: JobRecord | { id: string; lang: string }, message: JobMessage): void {
    this.#bus.publish(job.id, message);
    switch (message.type) {
      case 'started':
        this.emit('job.started', { job: message.job });
        return;
      case 'output':
        // One per chunk: build the payload only for someone who listens.
        if (this.#outputListeners > 0) {
          this.emit('job.output', { jobId: job.id, lang: job.lang, event: message.event });
        }
        return;
      case 'end':
        this.emit('job.finished', { job: message.job });
        return;
      case 'stage':
      case 'gap':
        return;
    }
  }
}
