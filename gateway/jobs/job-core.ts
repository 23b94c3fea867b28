// The gateway's core without a transport: bus, JobEvents, the job book over a store, the runner
// registry, the dispatcher, admission, intake and the session broker, wired together. The
// gateway puts it behind its routes and sockets (real clock, lowdb store); unit tests drive it
// directly (fake clock, in-memory store): one wiring for both.
import { CodeexecError, type JobRecord, type Logger } from '../../shared/index.js';
import type { Bus } from '../bus/bus.js';
import { InProcessBus } from '../bus/in-process-bus.js';
import { JobEvents } from '../events/job-events.js';
import { type OutputLogLimits, OutputLogs } from '../output/output-log.js';
import { ReliabilityBook } from '../runners/reliability-book.js';
import { RunnerRegistry } from '../runners/runner-registry.js';
import type { Clock } from '../scheduling/clock.js';
import type { DonorMax } from '../scheduling/donor-limits.js';
import { SessionBroker } from '../sessions/session-broker.js';
import type { JobStore } from '../store/job-store-api.js';
import { clientErrorOf } from '../store/store-errors.js';
import { Admission } from './admission.js';
import { Dispatcher } from './dispatcher.js';
import { JobBook } from './job-book.js';
import { JobIntake } from './job-intake.js';

export interface JobCoreOptions {
  store: JobStore;
  clock: Clock;
  log: Logger;
  /** A job's wait for a runner before the scheduler judges it (unless it asks otherwise). */
  queueTimeoutMs: number;
  offerTimeoutMs: number;
  leaseMs: number;
  maxAttempts: number;
  maxQueue: number;
  maxPerClient: number;
  storeOutputBytes: number;
  durableBeforeOffer: boolean;
  /** How long a runner may take to make a session's sandbox. */
  sessionOpenTimeoutMs: number;
  /** Reliability of runner identities; default: kept in memory only. */
  reliability?: ReliabilityBook;
  /** What donors may be asked for (CODEEXEC_DONOR_MAX_*). */
  donorMax?: DonorMax;
  /** A failed write of the store (the job stays correct in memory). */
  onWriteError?: (err: Error, jobId: string) => void;
  /** What the output logs kept for resuming may hold; default DEFAULT_OUTPUT_LOG_LIMITS. */
  outputLog?: OutputLogLimits;
  /** What gateway processes tell each other (NATS); default: an in-process bus. */
  bus?: Bus;
}

/** A job's output may reach 2 × 8 MiB (both streams at MAX_LIMITS); 256 MiB for all jobs. */
export const DEFAULT_OUTPUT_LOG_LIMITS: OutputLogLimits = {
  maxJobBytes: 16 * 1024 * 1024,
  maxBytes: 256 * 1024 * 1024,
};

export interface JobCore {
  /** The queue bound and the per-client cap (the fleet adds the other gateways' counts). */
  admission: Admission;
  bus: Bus;
  events: JobEvents;
  book: JobBook;
  registry: RunnerRegistry;
  dispatcher: Dispatcher;
  intake: JobIntake;
  sessions: SessionBroker;
  reliability: ReliabilityBook;
  /** Every job's output, numbered, for clients that resume. */
  output: OutputLogs;
  /** Stops every timer (the store and the bus are the caller's to close). */
  close(): void;
}

export function createJobCore(options: JobCoreOptions): JobCore {
  const { store, clock, log } = options;
  const bus = options.bus ?? new InProcessBus();
  const events = new JobEvents(bus);
  const book = new JobBook(store, (err, job, inserted) => {
    options.onWriteError?.(err, job.id);
    // Never stored, so never run: whoever watches it (a socket that got `accepted`) hears it
    // ended, with the reason, on the bus; nothing else (metrics, callbacks) counts it.
    if (!inserted) {
      const error = clientErrorOf(err) ?? new CodeexecError('internal', 'The job could not be stored');
      const failed: JobRecord = {
        ...job,
        status: 'failed',
        finished_at: new Date(clock.now()).toISOString(),
        error: { code: error.code, message: error.message },
      };
      bus.publish(failed.id, { type: 'end', job: failed });
    }
  });
  const reliability = options.reliability ?? ReliabilityBook.inMemory(log);
  const output = new OutputLogs(options.outputLog ?? DEFAULT_OUTPUT_LOG_LIMITS);
  const registry = new RunnerRegistry({
    events,
    clock,
    log,
    standingOf: (identity) => reliability.standing(identity),
    offerTimeoutMs: options.offerTimeoutMs,
    leaseMs: options.leaseMs,
  });
  const dispatcher = new Dispatcher({
    book,
    registry,
    events,
    bus,
    clock,
    log,
    queueTimeoutMs: options.queueTimeoutMs,
    maxAttempts: options.maxAttempts,
    storeOutputBytes: options.storeOutputBytes,
    durableBeforeOffer: options.durableBeforeOffer,
    reliability,
    output,
    ...(options.donorMax ? { donorMax: options.donorMax } : {}),
  });
  const admission = new Admission(book, { maxQueue: options.maxQueue, maxPerClient: options.maxPerClient });
  const intake = new JobIntake({
    book,
    dispatcher,
    registry,
    admission,
    ...(options.donorMax ? { donorMax: options.donorMax } : {}),
  });
  const sessions = new SessionBroker({
    dispatcher,
    intake,
    registry,
    clock,
    log,
    // A session waits for a slot as a job waits in the queue.
    placeTimeoutMs: options.queueTimeoutMs,
    openTimeoutMs: options.sessionOpenTimeoutMs,
  });
  return {
    admission,
    bus,
    events,
    book,
    registry,
    dispatcher,
    intake,
    sessions,
    reliability,
    output,
    close: () => {
      dispatcher.close();
      registry.close();
      sessions.shutdown();
    },
  };
}
