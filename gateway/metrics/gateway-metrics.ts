// The gateway's Prometheus metrics (GET /metrics), over shared/prometheus.ts. Counters and
// histograms follow JobEvents as jobs end and start; gauges (queue depth, runners, slots, client
// sockets) are read from the live parts when Prometheus scrapes. Every metric is this gateway's own
// (Prometheus scrapes each gateway), but for two fleet gauges read from the fleet's members at
// scrape time: the living gateways, and the runners of each. Its own registry, so two gateways in
// one process (tests) never share counters.
import type { Logger } from '../../shared/index.js';
import {
  Counter,
  Gauge,
  Histogram,
  PROMETHEUS_CONTENT_TYPE,
  processRegistry,
  type Registry,
} from '../../shared/prometheus.js';
import type { JobEvents } from '../events/job-events.js';
import type { Fleet, FleetMember } from '../fleet/fleet.js';
import type { RunnerRegistry } from '../runners/runner-registry.js';

export interface MetricsSources {
  events: Pick<JobEvents, 'on'>;
  registry: Pick<RunnerRegistry, 'all'>;
  /** Jobs waiting for a runner, by language. */
  queuedByLanguage: () => ReadonlyMap<string, number>;
  /** Client WebSockets open now. */
  clientSockets: () => number;
  /** The gateways sharing this one's store (a fleet of one on files). */
  fleet: Pick<Fleet, 'id' | 'members'>;
  /** Where a fleet that cannot be read is reported (the scrape goes on without the fleet gauges). */
  log: Pick<Logger, 'warn'>;
}

/** Seconds, for job stages: from 10 ms to two minutes. */
const DURATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export class GatewayMetrics {
  readonly registry: Registry = processRegistry();
  readonly #callbacks: Counter<'result'>;
  readonly #rateLimited: Counter<'scope'>;
  readonly #unsubscribe: (() => void)[];

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    const jobs = new Counter({
      name: 'codeexec_jobs_total',
      help: 'Jobs ended, by language, final status and reason (how the program ended; for a failed job its error code)',
      labelNames: ['lang', 'status', 'reason'] as const,
      registers,
    });
    const duration = new Histogram({
      name: 'codeexec_job_duration_seconds',
      help: 'Wall time of jobs by stage: compile, run, and total (from submission to end)',
      labelNames: ['lang', 'stage'] as const,
      buckets: DURATION_BUCKETS,
      registers,
    });
    const queueWait = new Histogram({
      name: 'codeexec_queue_wait_seconds',
      help: 'Time from submission until a runner accepted the job',
      labelNames: ['lang'] as const,
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#callbacks = new Counter({
      name: 'codeexec_callbacks_total',
      help: 'Callback attempts by result: delivered, retry (will be tried again), failed (for good)',
      labelNames: ['result'] as const,
      registers,
    });
    this.#rateLimited = new Counter({
      name: 'codeexec_rate_limited_total',
      help: 'Requests refused with 429 rate_limited, by limit: submissions (per client) or requests (per address)',
      labelNames: ['scope'] as const,
      registers,
    });
    for (const scope of ['submissions', 'requests'] as const) this.#rateLimited.inc({ scope }, 0);
    new Gauge({
      name: 'codeexec_queue_depth',
      help: 'Jobs waiting for a runner, by language',
      labelNames: ['lang'] as const,
      registers,
      collect() {
        this.reset();
        for (const [lang, depth] of sources.queuedByLanguage()) this.set({ lang }, depth);
      },
    });
    new Gauge({
      name: 'codeexec_runners',
      help: 'Connected runners by tier and state (ready, paused, draining)',
      labelNames: ['tier', 'state'] as const,
      registers,
      collect() {
        this.reset();
        for (const tier of ['trusted', 'donor'] as const) {
          for (const state of ['ready', 'paused', 'draining'] as const) this.set({ tier, state }, 0);
        }
        for (const runner of sources.registry.all()) {
          const state = runner.state === 'draining' ? 'draining' : runner.paused ? 'paused' : 'ready';
          this.inc({ tier: runner.tier, state });
        }
      },
    });
    new Gauge({
      name: 'codeexec_runner_slots',
      help: 'Runner slots, in use and free, over every connected runner',
      labelNames: ['state'] as const,
      registers,
      collect() {
        let used = 0;
        let total = 0;
        for (const runner of sources.registry.all()) {
          used += Math.min(runner.load, runner.slots);
          total += runner.slots;
        }
        this.set({ state: 'used' }, used);
        this.set({ state: 'free' }, total - used);
      },
    });
    new Gauge({
      name: 'codeexec_client_sockets',
      help: 'Client WebSockets open (/execute/ws)',
      registers,
      collect() {
        this.set(sources.clientSockets());
      },
    });
    // Both fleet gauges are collected in the same pass of a scrape: one read of the fleet serves both.
    let reading: Promise<FleetMember[] | null> | null = null;
    const fleetNow = () => {
      reading ??= Promise.resolve()
        .then(() => sources.fleet.members())
        .catch((err: unknown) => {
          sources.log.warn({ err }, 'could not read the fleet: /metrics shows no codeexec_fleet_* gauges');
          return null;
        })
        .finally(() => {
          reading = null;
        });
      return reading;
    };
    new Gauge({
      name: 'codeexec_fleet_gateways',
      help: 'Living gateways of the fleet (those sharing the PostgreSQL store of this one, whose lease runs; 1 on files)',
      registers,
      async collect() {
        const members = await fleetNow();
        // No sample rather than a false 0 when the fleet could not be read.
        if (members === null) this.remove();
        else this.set(members.length);
      },
    });
    new Gauge({
      name: 'codeexec_fleet_runners',
      help: 'Runners connected to each living gateway of the fleet: to this one now, to the others as of their last beat',
      labelNames: ['gateway'] as const,
      registers,
      async collect() {
        this.reset();
        const members = await fleetNow();
        for (const member of members ?? []) {
          const runners =
            member.id === sources.fleet.id ? [...sources.registry.all()].length : member.runners.length;
          this.set({ gateway: member.id }, runners);
        }
      },
    });
    this.#unsubscribe = [
      sources.events.on('job.started', ({ job }) => {
        if (job.timings.queue_ms !== null) queueWait.observe({ lang: job.lang }, job.timings.queue_ms / 1000);
      }),
      sources.events.on('job.finished', ({ job }) => {
        // A verified job's replicas are internal: the job itself is counted.
        if (job.replica_of !== null) return;
        jobs.inc({ lang: job.lang, status: job.status, reason: job.reason ?? job.error?.code ?? 'none' });
        const { compile_ms, run_ms, total_ms } = job.timings;
        if (compile_ms !== null) duration.observe({ lang: job.lang, stage: 'compile' }, compile_ms / 1000);
        if (run_ms !== null) duration.observe({ lang: job.lang, stage: 'run' }, run_ms / 1000);
        if (total_ms !== null) duration.observe({ lang: job.lang, stage: 'total' }, total_ms / 1000);
      }),
    ];
  }

  callback(result: 'delivered' | 'retry' | 'failed'): void {
    this.#callbacks.inc({ result });
  }

  rateLimited(scope: 'submissions' | 'requests'): void {
    this.#rateLimited.inc({ scope });
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
