// The multi-gateway benchmark's printed tables (bench/gateways.ts): per configuration the medians
// over the rounds, the ratios against lowdb×1 and postgres×1, the scaling efficiency, what the
// machine's cores allow, and what the gateways logged as warnings or errors.
import { cpus } from 'node:os';
import { int, table } from './gateway-report.js';
import { median } from './pool-stats.js';

export type StoreKind = 'lowdb' | 'postgres';

/** One timed run of one configuration. */
export interface Measured {
  /** Jobs that ended `done` in the window, per second, all gateways together. */
  jobsPerSec: number;
  /** Jobs that ended `done` in the whole run (warm-up and the tail after the window too). */
  jobsAll: number;
  /** Execute → exit, ms. */
  p50: number;
  p95: number;
  /** jobs/s of each gateway's clients. */
  perGateway: number[];
  /**
   * Percent of one core during the window: all gateways together, PostgreSQL (every backend),
   * nats-server, the load processes; and every process on the machine (this benchmark's and others').
   */
  cpu: { gateways: number; postgres: number; nats: number; load: number; machine: number };
  failed: number;
  firstFailure: string | null;
  deferred: number;
}

export interface Summary {
  name: string;
  store: StoreKind;
  gateways: number;
  /** One per round. */
  closed: Measured[];
  paced: Measured[];
  /** PostgreSQL transactions committed per job, over each round's closed and paced runs. */
  commitsPerJob: number[];
}

export interface GatewayIssue {
  /** pino's: 40 warn, 50 error, 60 fatal. */
  level: number;
  count: number;
  /** The runs (configuration, round) it happened in. */
  where: Set<string>;
  /** The first line, as logged. */
  example: string;
}

export interface ReportContext {
  config: {
    rounds: number;
    seconds: number;
    warmupMs: number;
    sockets: number;
    perSocket: number;
    runners: number;
    loadProcesses: number;
    rate: number;
    pgFsync: boolean;
  };
  postgres: string;
  /** nats-server's version; null: the gateways ran without a bus (BENCH_NATS=0). */
  nats: string | null;
  load: { start: number; end: number };
  minutes: number;
  issues: GatewayIssue[];
}

/** The median of one figure over the rounds. */
const med = (runs: Measured[], pick: (run: Measured) => number): number =>
  runs.length === 0 ? Number.NaN : median(runs.map(pick));
const ms = (value: number): string => (Number.isNaN(value) ? '—' : value.toFixed(1));
const pct = (value: number): string => (Number.isNaN(value) ? '—' : `${value.toFixed(0)}%`);
const times = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '—');
const totalCpu = (run: Measured): number => run.cpu.gateways + run.cpu.postgres + run.cpu.nats + run.cpu.load;

export function report(summaries: Summary[], context: ReportContext): string {
  const { config } = context;
  const cores = cpus().length;
  const model = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const out: string[] = [];
  const inFlight = config.sockets * config.perSocket;
  out.push(
    `Dispatch throughput with 1–${Math.max(...summaries.map((s) => s.gateways))} gateways: node ${process.version}, ` +
      `${cores} CPUs (${model}), PostgreSQL ${context.postgres} (fsync ${config.pgFsync ? 'on' : 'off'}), ` +
      `${context.nats === null ? 'no bus (BENCH_NATS=0)' : `nats-server ${context.nats}`}; load average ${context.load.start.toFixed(1)} at the start, ` +
      `${context.load.end.toFixed(1)} at the end; ${context.minutes.toFixed(1)} min.`,
    `Tiny jobs (accept, one chunk, a result) from synthetic runners: ${config.runners} runners and ` +
      `${config.sockets} client sockets, each on one gateway, spread evenly, in ${config.loadProcesses} ` +
      'load processes whatever the number of gateways; a job runs on the gateway it was submitted to.',
    `Closed loop: ${config.perSocket} jobs unfinished per socket, ${inFlight} in all; ` +
      `${config.warmupMs / 1000} s warm-up, then ${config.seconds} s measured. ` +
      (config.rate > 0 ? `Paced: ${int(config.rate)} jobs/s offered in all, for the latency. ` : '') +
      'p50/p95: a client’s execute → its exit, on /execute/ws. ' +
      `Medians of ${config.rounds} round${config.rounds === 1 ? '' : 's'} (fresh gateways and database each run; ` +
      'the order of the configurations alternates).',
    `CPU: 100% = one core, during the measured window (this machine has ${cores * 100}%); all: the ` +
      'benchmark’s processes; machine: every process, others’ too (/proc/stat). ' +
      'PG tx/job: transactions committed in the database per job (pg_stat_database.xact_commit).',
    '',
  );
  out.push(
    table(
      [
        'configuration',
        'jobs/s',
        '(rounds)',
        'p50 ms',
        'p95 ms',
        ...(config.rate > 0 ? ['paced p50', 'paced p95'] : []),
        'CPU gateways',
        'per gateway',
        'PostgreSQL',
        'NATS',
        'load',
        'all',
        'machine',
        'PG tx/job',
      ],
      summaries.map((s) => {
        const jobs = s.closed.map((run) => run.jobsPerSec);
        return [
          s.name,
          int(med(s.closed, (run) => run.jobsPerSec)),
          `${int(Math.min(...jobs))}–${int(Math.max(...jobs))}`,
          ms(med(s.closed, (run) => run.p50)),
          ms(med(s.closed, (run) => run.p95)),
          ...(config.rate > 0
            ? [ms(med(s.paced, (run) => run.p50)), ms(med(s.paced, (run) => run.p95))]
            : []),
          pct(med(s.closed, (run) => run.cpu.gateways)),
          pct(med(s.closed, (run) => run.cpu.gateways / s.gateways)),
          s.store === 'postgres' ? pct(med(s.closed, (run) => run.cpu.postgres)) : '—',
          s.store === 'postgres' ? pct(med(s.closed, (run) => run.cpu.nats)) : '—',
          pct(med(s.closed, (run) => run.cpu.load)),
          pct(med(s.closed, totalCpu)),
          pct(med(s.closed, (run) => run.cpu.machine)),
          s.commitsPerJob.length > 0 ? median(s.commitsPerJob).toFixed(1) : '—',
        ];
      }),
    ),
  );

  const lowdb = summaries.find((s) => s.store === 'lowdb' && s.gateways === 1);
  const pg1 = summaries.find((s) => s.store === 'postgres' && s.gateways === 1);
  const jobs = (s: Summary | undefined) => (s ? med(s.closed, (run) => run.jobsPerSec) : Number.NaN);
  const p50 = (s: Summary | undefined) => (s ? med(s.closed, (run) => run.p50) : Number.NaN);
  const paced50 = (s: Summary | undefined) => (s ? med(s.paced, (run) => run.p50) : Number.NaN);
  out.push(
    '',
    `Ratios (of the medians). Scaling efficiency = jobs/s(n) ÷ (n × jobs/s of ${pg1?.name ?? 'PostgreSQL ×1'}); ` +
      '1.00 is linear.',
  );
  out.push(
    table(
      [
        'configuration',
        'jobs/s ÷ lowdb×1',
        '÷ postgres×1',
        'efficiency',
        'p50 ÷ lowdb×1',
        '÷ postgres×1',
        ...(config.rate > 0 ? ['paced p50 ÷ lowdb×1', '÷ postgres×1'] : []),
      ],
      summaries.map((s) => [
        s.name,
        times(jobs(s) / jobs(lowdb)),
        times(jobs(s) / jobs(pg1)),
        s.store === 'postgres' ? (jobs(s) / (s.gateways * jobs(pg1))).toFixed(2) : '—',
        times(p50(s) / p50(lowdb)),
        times(p50(s) / p50(pg1)),
        ...(config.rate > 0 ? [times(paced50(s) / paced50(lowdb)), times(paced50(s) / paced50(pg1))] : []),
      ]),
    ),
  );

  // What the cores allow: the work of postgres+nats ×1, spread over every core, is a ceiling.
  out.push('', `This machine has ${cores} CPU${cores === 1 ? '' : 's'}.`);
  if (pg1) {
    const used = med(pg1.closed, totalCpu);
    const ceiling = (cores * 100) / used;
    const most = Math.max(...summaries.map((s) => s.gateways));
    out.push(
      `${pg1.name} used ${pct(used)} of the ${cores * 100}% (gateway, PostgreSQL, NATS and load together): ` +
        `if every job costs the machine what it did there, ~${ceiling.toFixed(1)}× its jobs/s fills these ` +
        `cores however many gateways run, so ${most} gateways could show a scaling efficiency of about ` +
        `${Math.min(1, ceiling / most).toFixed(2)} here at best. Near-linear scaling to ${most} gateways needs ` +
        `cores for ${most} gateways, PostgreSQL, NATS and the load: this machine can show how close the ` +
        'gateways come to its ceiling, not whether they scale linearly.',
    );
    for (const s of summaries.filter((s) => s.store === 'postgres')) {
      const each = med(s.closed, (run) => run.cpu.gateways / s.gateways);
      if (each >= 70) continue;
      out.push(
        `${s.name}: each gateway used ${pct(each)} of a core` +
          (med(s.closed, (run) => run.cpu.machine) > cores * 85
            ? ' while the machine was busy: short of CPU.'
            : ' while cores were to spare: the gateways wait (on PostgreSQL or NATS round trips), ' +
              'not on their own CPU.'),
      );
    }
  }

  const others = summaries.map((s) => ({
    name: s.name,
    used: med(s.closed, (run) => run.cpu.machine - totalCpu(run)),
  }));
  if (others.some((other) => other.used > 20)) {
    out.push(
      'Other processes on the machine ran during the windows (median % of a core): ' +
        `${others.map((other) => `${other.name} ${pct(Math.max(0, other.used))}`).join(', ')}: ` +
        'the figures are noisy; compare them with care.',
    );
  }

  const failures = summaries.flatMap((s) =>
    [...s.closed, ...s.paced].filter((run) => run.failed > 0).map((run) => ({ s, run })),
  );
  if (failures.length > 0) {
    out.push('', 'FAILED jobs (they count in no figure above):');
    for (const { s, run } of failures) out.push(`  ${s.name}: ${run.failed}; first: ${run.firstFailure}`);
  }
  const deferred = summaries.flatMap((s) => s.paced.filter((run) => run.deferred > 0).map(() => s.name));
  if (deferred.length > 0) {
    out.push(
      '',
      `The paced load could not be offered in full (every socket had ${config.perSocket} unfinished jobs) in: ` +
        `${[...new Set(deferred)].join(', ')}; lower BENCH_RATE.`,
    );
  }
  out.push('', 'Gateway warnings and errors (log level warn and above):');
  if (context.issues.length === 0) out.push('  none');
  for (const issue of context.issues) {
    const level = issue.level >= 60 ? 'FATAL' : issue.level >= 50 ? 'ERROR' : 'WARN';
    out.push(
      `  ${level} ×${issue.count} in ${[...issue.where].join('; ')}:`,
      `    ${issue.example.slice(0, 400)}`,
    );
  }
  return out.join('\n');
}
