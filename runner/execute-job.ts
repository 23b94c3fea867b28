// Runs one job in one (already leased) container: the files go in as a tar at the head of the
// first exec's stdin, an optional compile stage, the run stage with the job's limits, live output.
// Interpreted languages cost one exec; compiled ones two (files+compile, then run).
import type { RunResult, StageResult } from '../shared/job.js';
import { expandArgv, type LanguageSpec } from '../shared/languages.js';
import type { Limits, LimitsInput } from '../shared/limits.js';
import type { SandboxDriver } from './docker-sandbox.js';
import { cpuHardReachableMs, decideEnd, EXIT_SIGKILL, type RunnerKill } from './end-reason.js';
import { type StageUlimits, stageArgv, stageUlimits } from './stage-command.js';
import { type OutputChunk, StageOutput } from './stage-output.js';
import { packFiles } from './tar.js';

export type { OutputChunk } from './stage-output.js';

/** A job as the runner receives it (the offer's job). */
export interface JobSpec {
  id: string;
  lang: string;
  code: string;
  stdin: string | null;
  args: string[];
  limits: LimitsInput | null;
}

export interface JobContext {
  docker: Pick<SandboxDriver, 'exec' | 'kill' | 'waitStopped' | 'inspect'>;
  containerId: string;
  language: LanguageSpec;
  /** The job's resolved limits (already clamped to maxLimits). */
  limits: Limits;
  maxLimits: Limits;
  /** CPUs the container has; used to tell a CPU-limit SIGKILL from others. */
  cpus: number;
  /** Wall-time cap of the compile stage (the job's wall_time_ms covers the run stage only). */
  compileWallMs: number;
  onOutput: (chunk: OutputChunk) => void;
  signal?: AbortSignal;
}

/** After killing the container, how long to wait for docker to end the exec's stream. */
const KILL_GRACE_MS = 3000;

export async function executeJob(job: JobSpec, ctx: JobContext): Promise<RunResult> {
  const { language } = ctx;
  const files = await packFiles([{ name: language.file, content: job.code }]);
  const stdin = job.stdin === null ? null : Buffer.from(job.stdin, 'utf8');
  const program = [...expandArgv(language.run, language.file), ...job.args];
  const jobUlimits = stageUlimits(ctx.limits, ctx.maxLimits);

  if (language.compile === undefined) {
    if (ctx.signal?.aborted) return cancelledBeforeStart();
    const input = stdin === null ? files : Buffer.concat([files, stdin]);
    return runStage(ctx, {
      argv: stageArgv(files.length, jobUlimits, program),
      input,
      wallMs: ctx.limits.wall_time_ms,
      ulimits: jobUlimits,
      live: true,
    });
  }

  if (ctx.signal?.aborted) return cancelledBeforeStart();
  // The compiler runs under the runner's ceilings, not the job's (its limits are for its program).
  const compileUlimits = stageUlimits(ctx.maxLimits, ctx.maxLimits);
  const compile = await runStage(ctx, {
    argv: stageArgv(files.length, compileUlimits, expandArgv(language.compile, language.file)),
    input: files,
    wallMs: ctx.compileWallMs,
    ulimits: null,
    live: false,
  });
  if (compile.reason === 'cancelled') return { ...compile, compile };
  if (compile.reason !== 'exited' || compile.exit_code !== 0) {
    // The run stage did not run. Its text fields repeat the compiler's, so a client reading only
    // `output` and `exit_code` (the seed's contract) still sees why; `compile` is the stage itself.
    return { ...compile, reason: 'compile_failed', wall_ms: 0, compile };
  }
  if (ctx.signal?.aborted) return { ...cancelledBeforeStart(), compile };
  const run = await runStage(ctx, {
    argv: stageArgv(0, jobUlimits, program),
    input: stdin,
    wallMs: ctx.limits.wall_time_ms,
    ulimits: jobUlimits,
    live: true,
  });
  return { ...run, compile };
}

interface StagePlan {
  argv: string[];
  input: Buffer | null;
  wallMs: number;
  /** The job's rlimits when the stage runs the user's program under them, else null. */
  ulimits: StageUlimits | null;
  /** Stream output to ctx.onOutput as it arrives. */
  live: boolean;
}

async function runStage(ctx: JobContext, plan: StagePlan): Promise<StageResult> {
  const onChunk = plan.live ? guarded(ctx.onOutput) : null;
  const output = new StageOutput(ctx.limits.output_bytes, onChunk);
  const abandon = new AbortController();
  let killedBy: RunnerKill | null = null;
  let wallTimer: NodeJS.Timeout | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  let startedAt: number | null = null;

  // Wall time, output cap and cancel all kill the whole container: every process in it stops.
  const kill = (why: RunnerKill) => {
    if (killedBy !== null) return;
    killedBy = why;
    ctx.docker.kill(ctx.containerId).catch(() => abandon.abort());
    graceTimer = setTimeout(() => abandon.abort(), KILL_GRACE_MS);
  };
  const onCancel = () => kill('cancelled');
  ctx.signal?.addEventListener('abort', onCancel, { once: true });

  let exitCode: number | null;
  try {
    exitCode = await ctx.docker.exec(ctx.containerId, {
      argv: plan.argv,
      input: plan.input,
      signal: abandon.signal,
      onStarted: () => {
        startedAt = performance.now();
        wallTimer = setTimeout(() => kill('wall_time'), plan.wallMs);
        if (ctx.signal?.aborted) kill('cancelled');
      },
      onOutput: (stream, data) => {
        if (!output.push(stream, data)) kill('output_limit');
      },
    });
  } finally {
    clearTimeout(wallTimer);
    clearTimeout(graceTimer);
    ctx.signal?.removeEventListener('abort', onCancel);
  }
  const wallMs = startedAt === null ? 0 : Math.round(performance.now() - startedAt);

  // 137 is SIGKILL: from the OOM killer, the CPU hard limit, or the program itself. Only the
  // container's state tells OOM apart, and docker sets State.OOMKilled once the container has
  // stopped (verified on 20.10/cgroup v1: false while it runs, true after the kill). The
  // container is being thrown away anyway, so stopping it here costs the job nothing else.
  let oomKilled = false;
  if (killedBy === null && exitCode === EXIT_SIGKILL) {
    await ctx.docker.kill(ctx.containerId);
    await ctx.docker.waitStopped(ctx.containerId);
    oomKilled = (await ctx.docker.inspect(ctx.containerId)).oomKilled;
  }

  const end = decideEnd({
    killedBy,
    exitCode,
    oomKilled,
    cpuLimited: plan.ulimits !== null,
    cpuHardReachableMs: plan.ulimits === null ? 0 : cpuHardReachableMs(plan.ulimits.cpuHardSeconds, ctx.cpus),
    wallMs,
  });
  return { ...output.finish(), ...end, wall_ms: wallMs };
}

/** A listener that throws must not break the stage (the demultiplexer would see it as corrupt). */
function guarded(listener: (chunk: OutputChunk) => void): (chunk: OutputChunk) => void {
  return (chunk) => {
    try {
      listener(chunk);
    } catch {
      // The caller's problem; the output is still collected for the result.
    }
  };
}

export function cancelledBeforeStart(): RunResult {
  return {
    stdout: '',
    stderr: '',
    output: '',
    exit_code: null,
    signal: null,
    reason: 'cancelled',
    wall_ms: 0,
    truncated: false,
  };
}
