// `npm run bench`: the runner's warm pool against the two baselines it must beat, all measured in
// this one run on this machine: a bare docker exec in an already-running container, and a cold
// container per job. Prints p50/p95 latency and throughput at 1, 2, 4 and 8 jobs in flight, then
// the ratios against the targets. Every container it makes is removed, on failure and Ctrl-C too.
// BENCH_JOBS (default 30) sets the jobs per cell.
import { cpus, loadavg } from 'node:os';
import { DockerSandbox } from '../runner/docker/docker-sandbox.js';
import { RUNNER_LABEL, SandboxPool } from '../runner/pool/sandbox-pool.js';
import { LANGUAGES } from '../shared/languages.js';
import { BenchModes } from './pool-modes.js';
import { checkTargets, formatTable, formatTargets, type PoolBenchResults } from './pool-report.js';
import { type Cell, closedLoop } from './pool-stats.js';

const IN_FLIGHT = [1, 2, 4, 8] as const;
const WARM_UP_JOBS = 4;

async function main(): Promise<number> {
  const jobs = Number(process.env.BENCH_JOBS ?? 30);
  if (!Number.isInteger(jobs) || jobs < 2) throw new Error('BENCH_JOBS must be an integer >= 2');
  const python = LANGUAGES.find((lang) => lang.name === 'python');
  if (python === undefined) throw new Error('no python in shared/languages.ts');

  const docker = new DockerSandbox();
  const runnerName = `bench-pool-${process.pid}-${Date.now()}`;
  // A runner with 8 slots gets these (runner.ts: maxWarm = max(2, slots)).
  const pool = new SandboxPool({ runnerName, languages: [python], docker, minWarm: 1, maxWarm: 8 });
  const stop = new AbortController();
  // The pool removes what it made; this also catches the baselines' containers and any stray.
  const sweep = async () => {
    await pool.close();
    try {
      const left = await docker.listByLabel(RUNNER_LABEL, runnerName);
      await Promise.all(left.map((id) => docker.remove(id)));
    } catch (err) {
      console.error(
        `could not sweep containers labelled ${RUNNER_LABEL}=${runnerName}: ${(err as Error).message}`,
      );
    }
  };
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts === 1) {
      console.error('\nstopping: waiting for the jobs in flight, then removing every container');
      stop.abort();
      return;
    }
    console.error('removing every container now');
    void sweep().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    if (!(await docker.imageExists(python.image))) {
      throw new Error(`image ${python.image} is missing: run \`bash scripts/setup.sh python\` first`);
    }
    console.log(
      `pool benchmark: python ${JSON.stringify('print(1)')}, ${jobs} jobs per cell; ` +
        `${new Date().toISOString()}, ${cpus().length} cores, load ${loadavg()[0]?.toFixed(2)}, node ${process.version}`,
    );
    const began = performance.now();
    const elapsed = () => `${((performance.now() - began) / 1000).toFixed(0)} s`;
    await pool.start();
    await pool.settled();
    const modes = new BenchModes(docker, pool, python);
    await modes.startBare();
    const signal = stop.signal;
    // Warm-up, not measured: page cache, python's first start, the engine's first creations.
    await closedLoop({ jobs: WARM_UP_JOBS, inFlight: 1, once: () => modes.bare(), stop: signal });
    await closedLoop({ jobs: 2, inFlight: 1, once: () => modes.cold(), stop: signal });
    await closedLoop({ jobs: WARM_UP_JOBS, inFlight: 1, once: () => modes.pooled(), stop: signal });

    const bare = new Map<number, Cell>();
    const cold = new Map<number, Cell>();
    const pooled = new Map<number, Cell>();
    // Modes run next to each other per concurrency, so each ratio compares figures taken close in
    // time; cold and pool swap places each time, so neither always follows the other's aftermath.
    for (const [index, inFlight] of IN_FLIGHT.entries()) {
      bare.set(inFlight, await closedLoop({ jobs, inFlight, once: () => modes.bare(), stop: signal }));
      const runCold = async () => {
        cold.set(inFlight, await closedLoop({ jobs, inFlight, once: () => modes.cold(), stop: signal }));
      };
      const runPool = async () => {
        await pool.settled();
        // The run ends when the pool has settled again: removals and refills it deferred count.
        const settle = () => pool.settled();
        pooled.set(
          inFlight,
          await closedLoop({ jobs, inFlight, once: () => modes.pooled(), settle, stop: signal }),
        );
      };
      for (const run of index % 2 === 0 ? [runCold, runPool] : [runPool, runCold]) await run();
      console.log(`  measured ${inFlight} in flight (${elapsed()})`);
    }
    const poolSettled = await closedLoop({
      jobs,
      inFlight: 1,
      before: () => pool.settled(),
      once: () => modes.pooled(),
      stop: signal,
    });

    console.log(`  measured one at a time, settled (${elapsed()})`);
    const results: PoolBenchResults = { inFlight: IN_FLIGHT, bare, cold, pool: pooled, poolSettled };
    console.log(
      `\n${formatTable(results)}\n\ntargets (issue 3, item 8)\n${formatTargets(checkTargets(results))}`,
    );
    console.log(`\nload at the end ${loadavg()[0]?.toFixed(2)} (other work on this machine skews figures)`);
    return 0;
  } finally {
    await sweep();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    const interrupted = (err as Error)?.name === 'AbortError';
    console.error(interrupted ? 'interrupted; every container removed' : err);
    process.exit(interrupted ? 130 : 1);
  },
);
