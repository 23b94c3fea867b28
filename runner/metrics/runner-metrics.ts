// The runner's Prometheus metrics (its optional metrics port: metrics-server.ts), over
// shared/prometheus.ts. Counters and histograms follow the runner's events (jobs ending, the
// engine's container operations, the gateway link); gauges (the pool's containers, slots) are read
// from the runner when Prometheus scrapes. Its own registry: a gateway and a runner in one process
// (`codeexec dev`, tests) never share series. Names never repeat a gateway's (docs/grafana-dashboard.test.ts).
import {
  Counter,
  Gauge,
  Histogram,
  PROMETHEUS_CONTENT_TYPE,
  processRegistry,
  type Registry,
} from '../../shared/prometheus.js';
import type { ContainerOp } from '../docker/sandbox-driver.js';
import type { LanguageStock } from '../pool/container-stock.js';
import type { JobFinished, RunnerEvents } from '../runner-events.js';
import type { TypedEmitter } from '../typed-emitter.js';

export interface RunnerMetricsSources {
  events: Pick<TypedEmitter<RunnerEvents>, 'on'>;
  /** For codeexec_runner_info. */
  name: string;
  version: string;
  /** The pool's containers by language and state, now. */
  stock: () => readonly LanguageStock[];
  /** The owner's slot cap, and the slots taken (pooled jobs, and one per open session). */
  slots: () => { total: number; used: number };
}

/** Seconds, for engine operations: an exec set-up takes ~20–100 ms, a create or a removal ~100 ms. */
const OPERATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const OPS: readonly ContainerOp[] = ['create', 'start', 'exec', 'remove'];

const CONTAINER_STATES = [
  ['starting', 'starting'],
  ['warm', 'warm'],
  ['in_use', 'inUse'],
  ['removing', 'removing'],
] as const;

export class RunnerMetrics {
  readonly registry: Registry = processRegistry();
  readonly #unsubscribe: (() => void)[];

  constructor(sources: RunnerMetricsSources) {
    const registers = [this.registry];
    new Gauge({
      name: 'codeexec_runner_info',
      help: "The runner's name and version (always 1)",
      labelNames: ['name', 'version'] as const,
      registers,
    }).set({ name: sources.name, version: sources.version }, 1);
    const connected = new Gauge({
      name: 'codeexec_runner_connected',
      help: 'Whether the runner is connected to its gateway and welcomed (1) or not (0)',
      registers,
    });
    connected.set(0);
    const jobs = new Counter({
      name: 'codeexec_runner_jobs_total',
      help:
        'Jobs this runner ended, by language and status: done (reason: how the program ended), ' +
        'failed (reason: the error code, e.g. sandbox_failed), handed_back (reason "none")',
      labelNames: ['lang', 'status', 'reason'] as const,
      registers,
    });
    const operations = new Histogram({
      name: 'codeexec_runner_container_operation_seconds',
      help:
        'Docker engine operations that succeeded, by op: create and start a container, set up an ' +
        'exec (not the program run in it), remove a container',
      labelNames: ['op'] as const,
      buckets: OPERATION_BUCKETS,
      registers,
    });
    const failures = new Counter({
      name: 'codeexec_runner_container_operation_failures_total',
      help: 'Docker engine operations that failed (refused, or no answer), by op',
      labelNames: ['op'] as const,
      registers,
    });
    for (const op of OPS) {
      operations.zero({ op });
      failures.inc({ op }, 0);
    }
    new Gauge({
      name: 'codeexec_runner_pool_containers',
      help: 'Sandbox containers by language and state: starting, warm, in_use (a job or session), removing',
      labelNames: ['lang', 'state'] as const,
      registers,
      collect() {
        this.reset();
        for (const stock of sources.stock()) {
          for (const [state, key] of CONTAINER_STATES) this.set({ lang: stock.language, state }, stock[key]);
        }
      },
    });
    new Gauge({
      name: 'codeexec_runner_pool_warm_target',
      help: 'Warm containers the pool aims to hold now, by language (0 while the language cannot run)',
      labelNames: ['lang'] as const,
      registers,
      collect() {
        this.reset();
        for (const stock of sources.stock()) this.set({ lang: stock.language }, stock.warmTarget);
      },
    });
    new Gauge({
      name: 'codeexec_runner_pool_waiting_jobs',
      help: 'Jobs waiting for a sandbox container to be created (none was warm), by language',
      labelNames: ['lang'] as const,
      registers,
      collect() {
        this.reset();
        for (const stock of sources.stock()) this.set({ lang: stock.language }, stock.waiting);
      },
    });
    new Gauge({
      name: 'codeexec_runner_job_slots',
      help: "This runner's slots, used (pooled jobs, open sessions) and free",
      labelNames: ['state'] as const,
      registers,
      collect() {
        const { total, used } = sources.slots();
        this.set({ state: 'used' }, used);
        this.set({ state: 'free' }, Math.max(0, total - used));
      },
    });
    const { events } = sources;
    this.#unsubscribe = [
      events.on('connection', ({ state }) => connected.set(state === 'connected' ? 1 : 0)),
      events.on('stopped', () => connected.set(0)),
      events.on('job.finished', (job) => jobs.inc({ lang: job.lang, ...outcome(job) })),
      events.on('container.operation', ({ op, seconds, failed }) => {
        if (failed) failures.inc({ op });
        else operations.observe({ op }, seconds);
      }),
    ];
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return PROMETHEUS_CONTENT_TYPE;
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
  }
}

function outcome(job: JobFinished): { status: string; reason: string } {
  if (job.reason !== null) return { status: 'done', reason: job.reason };
  if (job.error === 'handed_back') return { status: 'handed_back', reason: 'none' };
  return { status: 'failed', reason: job.error ?? 'none' };
}
