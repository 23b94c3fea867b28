// `npm run bench:store`: the job store at 10 000 stored jobs, the old whole-file-rewrite JobStore
// (the baseline) against LowdbJobStore (snapshot + journal), with and without fsync, all in this
// one run on the same pre-filled data file. Per store: the time to open it, one write when idle,
// then a closed loop of finished jobs (insert, → running, → done with a few hundred bytes of
// result, each step awaited until durable) with many in flight, retention pruning back to 10 000
// as it goes: p50/p99 of a write (call → durable) and finished jobs/s. Every figure is the median
// over BENCH_RUNS runs (default 3), the stores taking turns. Also: BENCH_STORED (10000),
// BENCH_IN_FLIGHT (64), jobs per run BENCH_JOBS (8000: past one compaction) and
// BENCH_BASELINE_JOBS (300), and BENCH_DIR for the data (default: the system's temporary dir).
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { newJob } from '../gateway/jobs/new-job.js';
import { LowdbJobStore } from '../gateway/store/lowdb-job-store.js';
import type { JobRecord, JobState } from '../shared/index.js';
import { median, percentile } from './pool-stats.js';
import { WholeFileJobStore } from './whole-file-store.js';

const envInt = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
};
const STORED = envInt('BENCH_STORED', 10_000);
const IN_FLIGHT = envInt('BENCH_IN_FLIGHT', 64);
const RUNS = envInt('BENCH_RUNS', 3);
const JOBS = envInt('BENCH_JOBS', 8000);
const BASELINE_JOBS = envInt('BENCH_BASELINE_JOBS', 300);
/** Retention runs every this many finished jobs, pruning back to STORED. */
const PRUNE_EVERY = 500;
const IDLE_WRITES = 20;
/** A realistic small result: a few hundred bytes of program output. */
const OUTPUT = 'processed item 0042: ok, 3 warnings, elapsed 0.013 s\n'.repeat(6);

/** The three writes the loop makes, each resolving once durable, whatever the store. */
interface Subject {
  insert(job: JobRecord): Promise<void>;
  transition(id: string, to: JobState, patch: Partial<JobRecord>): Promise<void>;
  prune(keep: number): Promise<void>;
  close(): Promise<void>;
  /** For the journal: compactions during the run and the mean group size. */
  extra(): string;
}

/** The old store is synchronous: a write is durable once the flush after it resolved. */
async function openWholeFile(dir: string): Promise<Subject> {
  const store = new WholeFileJobStore(dir);
  await store.open();
  return {
    insert: (job) => {
      store.insert(job);
      return store.flush();
    },
    transition: (id, to, patch) => {
      store.transition(id, to, patch);
      return store.flush();
    },
    prune: (keep) => {
      store.prune(new Date(0), keep);
      return store.flush();
    },
    close: () => store.flush(),
    extra: () => '',
  };
}

function openJournal(fsync: boolean) {
  return async (dir: string): Promise<Subject> => {
    const store = new LowdbJobStore(dir, { fsync });
    await store.open();
    const start = store.stats();
    return {
      insert: (job) => store.insert(job),
      transition: async (id, to, patch) => void (await store.transition(id, to, patch)),
      prune: async (keep) => void (await store.prune(new Date(0), keep)),
      close: () => store.close(),
      extra: () => {
        const end = store.stats();
        const group = (end.changes - start.changes) / Math.max(1, end.batches - start.batches);
        return `${end.compactions - start.compactions} compactions, ${group.toFixed(1)} writes per append`;
      },
    };
  };
}

const STORES = [
  { name: 'whole-file rewrite (old JobStore)', open: openWholeFile, jobs: BASELINE_JOBS },
  { name: 'journal, fsync (default)', open: openJournal(true), jobs: JOBS },
  { name: 'journal, no fsync', open: openJournal(false), jobs: JOBS },
] as const;

interface Run {
  openMs: number;
  idleMs: number;
  p50: number;
  p99: number;
  perSecond: number;
  extra: string;
}

const freshJob = () =>
  newJob({ lang: 'python', code: 'print(1)' }, { lang: 'python', interactive: false, client: 'key:bench' });

function finishedPatch(): Partial<JobRecord> {
  const now = new Date().toISOString();
  return {
    output: OUTPUT,
    stdout: OUTPUT,
    exit_code: 0,
    reason: 'exited',
    finished_at: now,
    timings: { queue_ms: 1, compile_ms: null, run_ms: 12, total_ms: 14 },
  };
}

/** STORED finished jobs with results, written by the old store: the data file both start from. */
async function prefill(dir: string): Promise<number> {
  const store = new WholeFileJobStore(dir);
  await store.open();
  let bytes = 0;
  for (let i = 0; i < STORED; i++) {
    const job: JobRecord = { ...freshJob(), status: 'done', runner_id: 'r1', attempt: 1, ...finishedPatch() };
    bytes += JSON.stringify(job).length;
    store.insert(job);
  }
  await store.flush();
  return bytes / STORED;
}

async function measure(open: (dir: string) => Promise<Subject>, dir: string, jobs: number): Promise<Run> {
  let at = performance.now();
  const subject = await open(dir);
  const openMs = performance.now() - at;
  const idle: number[] = [];
  for (let i = 0; i < IDLE_WRITES; i++) {
    at = performance.now();
    await subject.insert(freshJob());
    idle.push(performance.now() - at);
  }
  const latencies: number[] = [];
  const timed = async (write: Promise<void>) => {
    const start = performance.now();
    await write;
    latencies.push(performance.now() - start);
  };
  let started = 0;
  let finished = 0;
  const prunes: Promise<void>[] = [subject.prune(STORED)];
  const worker = async () => {
    while (started < jobs) {
      started++;
      const job = freshJob();
      await timed(subject.insert(job));
      const running = { runner_id: 'r1', attempt: 1, started_at: new Date().toISOString() };
      await timed(subject.transition(job.id, 'running', running));
      await timed(subject.transition(job.id, 'done', finishedPatch()));
      if (++finished % PRUNE_EVERY === 0) prunes.push(subject.prune(STORED));
    }
  };
  const begin = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  await Promise.all(prunes);
  const seconds = (performance.now() - begin) / 1000;
  const extra = subject.extra();
  await subject.close();
  return {
    openMs,
    idleMs: median(idle),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    perSecond: jobs / seconds,
    extra,
  };
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);

async function main(): Promise<void> {
  const root = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'codeexec-bench-store-'));
  try {
    const seed = join(root, 'seed');
    const recordBytes = await prefill(seed);
    console.log(
      `store benchmark: ${STORED} stored jobs (~${Math.round(recordBytes)} B each), ${IN_FLIGHT} in flight, ` +
        `${RUNS} runs; ${new Date().toISOString()}, ${cpus().length} cores, load ${loadavg()[0]?.toFixed(2)}, ` +
        `node ${process.version}, data in ${root}`,
    );
    const runs = STORES.map(() => [] as Run[]);
    for (let r = 0; r < RUNS; r++) {
      for (const [i, store] of STORES.entries()) {
        const dir = join(root, `run-${r}-${i}`);
        await cp(seed, dir, { recursive: true });
        const run = await measure(store.open, dir, store.jobs);
        runs[i]!.push(run);
        console.log(
          `  run ${r + 1} ${store.name}: ${fmt(run.perSecond, 0)} jobs/s, p50 ${fmt(run.p50)} ms, ` +
            `p99 ${fmt(run.p99)} ms ${run.extra}`,
        );
        await rm(dir, { recursive: true, force: true });
      }
    }
    const med = (i: number, key: keyof Omit<Run, 'extra'>) => median(runs[i]!.map((run) => run[key]));
    const head =
      `${'store'.padEnd(36)}${'open ms'.padStart(9)}${'idle write'.padStart(12)}` +
      `${'write p50'.padStart(11)}${'write p99'.padStart(11)}${'finished/s'.padStart(12)}${'vs old'.padStart(9)}`;
    console.log(
      `\nmedians of ${RUNS} runs (ms; a write is call → durable)\n${head}\n${'-'.repeat(head.length)}`,
    );
    for (const [i, store] of STORES.entries()) {
      console.log(
        `${store.name.padEnd(36)}${fmt(med(i, 'openMs'), 0).padStart(9)}${fmt(med(i, 'idleMs')).padStart(12)}` +
          `${fmt(med(i, 'p50')).padStart(11)}${fmt(med(i, 'p99')).padStart(11)}` +
          `${fmt(med(i, 'perSecond'), 0).padStart(12)}${`${fmt(med(i, 'perSecond') / med(0, 'perSecond'))}x`.padStart(9)}`,
      );
    }
    const [perSecond, p99] = [med(1, 'perSecond'), med(1, 'p99')];
    console.log(
      `\ntargets (default store, fsync): ≥ 500 finished jobs/s: ${fmt(perSecond, 0)} ${perSecond >= 500 ? 'PASS' : 'FAIL'}; ` +
        `p99 write < 50 ms: ${fmt(p99)} ${p99 < 50 ? 'PASS' : 'FAIL'}; nothing lost on kill -9: the unit test ` +
        'gateway/store/lowdb-job-store.test.ts',
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
