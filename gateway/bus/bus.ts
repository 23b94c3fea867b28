// The bus: what gateway processes tell each other, as an interface. One gateway fills it in
// process (in-process-bus.ts); gateways sharing a NATS server fill it with NATS (nats/nats-bus.ts).
// Three things travel on it:
// - a job's live events (start, stage, output, end) from the process whose runner holds the job
//   to every process with a watcher of it;
// - interactive input and cancels for a job, to whichever process holds the job's runner;
// - wake-ups: "a job was queued or a slot freed", so every scheduler takes another look;
// - nudges: "look at the work handed to you", to one gateway of the fleet, by its id.
import type { JobRecord, OutputGap, Signal, StageResult } from '../../shared/index.js';
import type { OutputEvent } from '../events/job-events.js';

export type JobMessage =
  | { type: 'started'; job: JobRecord }
  | { type: 'stage'; stage: 'compile' | 'run'; compile?: StageResult }
  | { type: 'output'; event: OutputEvent }
  /** Chunks that will not come (the runner's link lost them). */
  | { type: 'gap'; gap: OutputGap }
  | { type: 'end'; job: JobRecord };

/** Input for a running job, routed to the process that holds its runner. */
export type ControlMessage =
  | { type: 'stdin'; data: string }
  | { type: 'stdin_eof' }
  | { type: 'signal'; signal: Signal }
  | { type: 'cancel' };

/**
 * Handles control for jobs this process holds. Returns false when it does not hold the job, so
 * another process's handler may; throws a CodeexecError when the input is refused.
 */
export type ControlHandler = (jobId: string, message: ControlMessage) => boolean;

export interface Bus {
  /**
   * Delivers a job's event to its subscribers, in the order published: what one process published,
   * in its order; between two processes publishing for one job, nothing is ordered.
   */
  publish(jobId: string, message: JobMessage): void;
  /** Subscribes to one job's events. Returns the function that unsubscribes. */
  subscribe(jobId: string, handler: (message: JobMessage) => void): () => void;
  /**
   * Resolves once everything sent so far, subscriptions included, is in effect for every process:
   * a watcher that subscribed and then read the store misses nothing published after that read.
   */
  flush(): Promise<void>;
  /**
   * Sends input to the process holding the job. Resolves with whether some process took it;
   * rejects with the CodeexecError its handler threw when it refused the input. This process's
   * handlers are tried first, at once (before the call returns), so input sent in order is
   * handled in order; a bus that spans processes then asks the others, which takes a round trip.
   */
  control(jobId: string, message: ControlMessage): Promise<boolean>;
  /** Registers this process's control handler. Returns the function that removes it. */
  onControl(handler: ControlHandler): () => void;
  /** Asks every scheduler to look at the queue again (coalesced). */
  wake(): void;
  onWake(handler: () => void): () => void;
  /** Tells one gateway (by its fleet id) to look for jobs handed to it. Lost nudges are possible. */
  nudge(gatewayId: string): void;
  /** Hears the nudges for `gatewayId` (this process's). Returns the function that stops hearing. */
  onNudge(gatewayId: string, handler: () => void): () => void;
  close(): Promise<void>;
}
