// `npm run bench:e2e`: end-to-end latency of POST /execute/code (python print(1)) through a real
// gateway and runner, against a bare docker exec in an already-running hardened container, all
// measured in this run, alternating in rounds so each ratio compares figures taken close in time.
// Two gateways: the default one (a job is on disk before it is offered) and one that offers at
// once, so the cost of that write shows. Their stores start with BENCH_STORE_JOBS finished jobs
// (lowdb rewrites the whole file on each write, so the store's size is part of the cost).
// Every container it makes is removed, on failure and Ctrl-C too.
// Tune with BENCH_ROUNDS (default 5), BENCH_JOBS (per mode per round, default 20), BENCH_STORE_JOBS (2000).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway } from '../gateway/gateway.js';
import { newJob } from '../gateway/jobs/new-job.js';
import { createRunner } from '../runner/create-runner.js';
import { DockerSandbox } from '../runner/docker/docker-sandbox.js';
import { RUNNER_LABEL, SandboxPool } from '../runner/pool/sandbox-pool.js';
import type { Runner } from '../runner/runner.js';
import { type JobRecord, LANGUAGES, silentLogger } from '../shared/index.js';
import { percentile } from './pool-stats.js';

const CODE = 'print(1)';
const TARGET_RATIO = 1.3;

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a whole number ≥ 0`);
  return value;
}

/** A data directory whose jobs.json already holds `count` finished jobs. */
async function seededDataDir(count: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'codeexec-bench-e2e-'));
  const jobs: JobRecord[] = Array.from({ length: count }, (_, i) => ({
    ...newJob({ lang: 'python', code: `print(${i})` }, { lang: 'python', interactive: false, client: null }),
    status: 'done',
    stdout: `${i}\n`,
    output: `${i}\n`,
    exit_code: 0,
    reason: 'exited',
    attempt: 1,
    runner_id: 'seed',
    finished_at: new Date().toISOString(),
  }));
  await writeFile(join(dir, 'jobs.json'), JSON.stringify({ version: 1, jobs }));
  return dir;
}

interface Stack {
  label: string;
  gateway: Gateway;
  runner: Runner;
  dataDir: string;
}

async function startStack(label: string, durableBeforeOffer: boolean, storeJobs: number): Promise<Stack> {
  const dataDir = await seededDataDir(storeJobs);
  const token = randomBytes(12).toString('hex');
  const gateway = await Gateway.start({
    port: 0,
    dataDir,
    runnerTokens: [token],
    log: silentLogger,
    durableBeforeOffer,
  });
  const runner = await createRunner({
    gatewayUrl: gateway.url,
    token,
    name: `bench-e2e-${label}-${process.pid}`,
    dataDir: join(dataDir, 'runner'),
    languages: ['python'],
    slots: 1,
    minWarm: 2,
    maxWarm: 2,
    log: silentLogger,
  });
  await runner.start();
  await runner.connected();
  return { label, gateway, runner, dataDir };
}

async function postCode(stack: Stack): Promise<void> {
  const response = await fetch(`${stack.gateway.url}/execute/code`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ lang: 'python', code: CODE }),
  });
  const body = (await response.json()) as { output?: string; exit_code?: number };
  if (response.status !== 200 || body.output !== '1\n' || body.exit_code !== 0) {
    throw new Error(`${stack.label}: ${response.status} ${JSON.stringify(body).slice(0, 200)}`);
  }
}

async function main(): Promise<number> {
  const rounds = envNumber('BENCH_ROUNDS', 5);
  const perRound = envNumber('BENCH_JOBS', 20);
  const storeJobs = envNumber('BENCH_STORE_JOBS', 2000);
  const python = LANGUAGES.find((lang) => lang.name === 'python');
  if (!python) throw new Error('no python in shared/languages.ts');
  const docker = new DockerSandbox();
  if (!(await docker.imageExists(python.image))) {
    throw new Error(`image ${python.image} is missing: run \`bash scripts/setup.sh python\` first`);
  }

  const bareName = `bench-e2e-bare-${process.pid}`;
  const stacks: Stack[] = [];
  const cleanup = async () => {
    for (const stack of stacks) {
      await stack.runner.close();
      await stack.gateway.close();
      await rm(stack.dataDir, { recursive: true, force: true });
    }
    const left = await docker.listByLabel(RUNNER_LABEL, bareName);
    await Promise.all(left.map((id) => docker.remove(id)));
  };
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));

  try {
    console.log(
      `e2e benchmark: POST /execute/code python ${JSON.stringify(CODE)}, ${rounds} rounds × ${perRound} jobs per mode, ` +
        `store of ${storeJobs} jobs; ${new Date().toISOString()}, ${cpus().length} cores, ` +
        `load ${loadavg()[0]?.toFixed(2)}, node ${process.version}`,
    );
    // The baseline container is the one the runner's pool would make: same image, hardening, limits.
    const spec = new SandboxPool({ runnerName: bareName, languages: [python] }).containerSpec(python);
    const bareId = await docker.createAndStart(spec);
    const bare = async () => {
      let stdout = '';
      const code = await docker.exec(bareId, {
        argv: ['python3', '-c', CODE],
        input: null,
        onOutput: (stream, data) => {
          if (stream === 'stdout') stdout += data.toString('utf8');
        },
      });
      if (code !== 0 || stdout !== '1\n')
        throw new Error(`bare exec ended ${code}: ${JSON.stringify(stdout)}`);
    };
    stacks.push(await startStack('durable', true, storeJobs));
    stacks.push(await startStack('plain', false, storeJobs));
    const [durable, plain] = stacks as [Stack, Stack];
    // Each timed job starts on a quiet engine: every pool full, no removal or refill under way.
    const quiet = () => Promise.all(stacks.map((stack) => stack.runner.settled()));

    const modes: { name: string; once: () => Promise<void>; samples: number[] }[] = [
      { name: 'bare docker exec (baseline)', once: bare, samples: [] },
      { name: 'e2e, on disk before offer (default)', once: () => postCode(durable), samples: [] },
      { name: 'e2e, offered at once', once: () => postCode(plain), samples: [] },
    ];
    // Warm-up, not measured: python's first start, the engine's caches, the gateways' first requests.
    for (const mode of modes) {
      for (let i = 0; i < 3; i++) {
        await quiet();
        await mode.once();
      }
    }
    for (let round = 0; round < rounds; round++) {
      for (const mode of modes) {
        for (let i = 0; i < perRound; i++) {
          await quiet();
          const at = performance.now();
          await mode.once();
          mode.samples.push(performance.now() - at);
        }
      }
      console.log(`  round ${round + 1}/${rounds} done`);
    }

    const base = percentile(modes[0]!.samples, 50);
    console.log(
      `\n${'mode'.padEnd(40)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'p50 ratio'.padStart(10)}`,
    );
    for (const mode of modes) {
      const p50 = percentile(mode.samples, 50);
      const p95 = percentile(mode.samples, 95);
      console.log(
        `${mode.name.padEnd(40)} ${p50.toFixed(1).padStart(8)} ${p95.toFixed(1).padStart(8)} ${(p50 / base).toFixed(2).padStart(9)}×`,
      );
    }
    const ratio = percentile(modes[1]!.samples, 50) / base;
    const met = ratio <= TARGET_RATIO;
    console.log(
      `\ntarget: e2e p50 ≤ ${TARGET_RATIO} × bare exec p50 (default gateway): ${ratio.toFixed(2)}× — ${met ? 'met' : 'NOT met'}`,
    );
    return met ? 0 : 1;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error((err as Error).stack ?? err);
    process.exit(1);
  },
);
