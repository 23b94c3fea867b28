// How the pool benchmark drives a mode and summarises it: N jobs with a fixed number in flight
// (closed loop), latency per job and throughput over the whole run.

export interface Cell {
  jobs: number;
  p50: number;
  p95: number;
  /** Jobs per second over the run, including `settle` (work a job left behind counts). */
  perSecond: number;
}

/** Nearest-rank percentile of `values` (0 < p ≤ 100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export interface LoopOptions {
  jobs: number;
  inFlight: number;
  /** One job; resolves when its result is in. */
  once: () => Promise<void>;
  /** Awaited before each job, outside its latency (e.g. let the pool settle): one-at-a-time runs. */
  before?: () => Promise<void>;
  /** Awaited after the last job, inside the run's time (e.g. the removals and refills it caused). */
  settle?: () => Promise<void>;
  /** Stops starting jobs (Ctrl-C); the run then rejects once those in flight are done. */
  stop: AbortSignal;
}

export async function closedLoop(options: LoopOptions): Promise<Cell> {
  const latencies: number[] = [];
  let started = 0;
  const worker = async () => {
    while (started < options.jobs) {
      options.stop.throwIfAborted();
      started++;
      await options.before?.();
      const at = performance.now();
      await options.once();
      latencies.push(performance.now() - at);
    }
  };
  const begin = performance.now();
  const workers = Array.from({ length: options.inFlight }, worker);
  const outcomes = await Promise.allSettled(workers);
  const failed = outcomes.find((o) => o.status === 'rejected');
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  await options.settle?.();
  const seconds = (performance.now() - begin) / 1000;
  return {
    jobs: latencies.length,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    perSecond: latencies.length / seconds,
  };
}
