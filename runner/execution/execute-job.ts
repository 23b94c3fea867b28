// Runs one job in one (already leased) container: the files go in as a tar at the head of the
// first exec's stdin, an optional compile stage under its own limits, the run stage with the job's
// limits and live output, then the files it left in /workspace/out (in the same exec).
// Interpreted languages cost one exec; compiled ones two (files+compile, then run).
import { CodeexecError } from '../../shared/errors.js';
import type { FileInput, RunResult, StageResult } from '../../shared/job.js';
import { expandArgv, type LanguageSpec } from '../../shared/languages.js';
import {
  DEFAULT_COMPILE_LIMITS,
  type Limits,
  type LimitsInput,
  OUTPUT_FILE_LIMITS,
  resolveLimits,
} from '../../shared/limits.js';
import type { SandboxDriver } from '../docker/docker-sandbox.js';
import type { JobControl } from './job-control.js';
import { jobFiles } from './job-files.js';
import { runStage, type StageContext, type StagePlan, type StageRun } from './run-stage.js';
import { newStageTrailer, stageArgv, stageUlimits } from './stage-command.js';
import type { OutputChunk } from './stage-output.js';
import { packFiles } from './tar.js';

export type { OutputChunk } from './stage-output.js';

/** Where a running job's live output and stage changes go, and what cancels it. */
export interface JobIo {
  onOutput: (chunk: OutputChunk) => void;
  onStage?: JobContext['onStage'];
  signal?: AbortSignal;
}

/** A job as the runner receives it (the offer's job). */
export interface JobSpec {
  id: string;
  lang: string;
  /** The main file's content; its name is the language's (`main.py`, `Main.java`, …). */
  code: string;
  stdin: string | null;
  args: string[];
  /** Files besides the main one, written under /workspace before anything runs. */
  files?: FileInput[];
  /** Limits of the run stage. */
  limits: LimitsInput | null;
  /** Limits of the compile stage (compiled languages); defaults DEFAULT_COMPILE_LIMITS. */
  compile_limits?: LimitsInput | null;
  /**
   * Signals and (interactive) live stdin, for the run stage only: what arrives while a compiled
   * language compiles waits (bounded) in it, and is written or sent once the run stage starts.
   */
  control?: JobControl;
}

export interface JobContext extends StageContext {
  docker: Pick<SandboxDriver, 'exec' | 'kill' | 'waitStopped' | 'inspect' | 'update'>;
  language: LanguageSpec;
  /** The run stage's limits, already clamped to maxLimits. The container has their memory and pids. */
  limits: Limits;
  maxLimits: Limits;
  /** The compile stage's wall time when the job sets none; default DEFAULT_COMPILE_LIMITS'. */
  compileWallMs?: number;
  /**
   * Compiled languages: the compile stage succeeded (here is its result) and the run stage's exec
   * starts now. Called before any of the run stage's output (compile output is never live), so a
   * listener can tell the two apart.
   */
  onStage?: (stage: 'run', compile: StageResult) => void;
}

export async function executeJob(job: JobSpec, ctx: JobContext): Promise<RunResult> {
  const { language } = ctx;
  // Bad names or sizes throw CodeexecError('invalid_request') before anything runs.
  const archive = await packFiles(jobFiles(language.file, job.code, job.files));
  const stdin = job.stdin === null ? null : Buffer.from(job.stdin, 'utf8');
  const program = [...expandArgv(language.run, language.file), ...job.args];
  const runUlimits = stageUlimits(ctx.limits, ctx.maxLimits);
  const trailer = newStageTrailer(OUTPUT_FILE_LIMITS.archive_bytes);
  const runPlan = (tarBytes: number, input: Buffer | null): StagePlan => ({
    argv: stageArgv(tarBytes, runUlimits, program, trailer, true),
    input,
    limits: ctx.limits,
    ulimits: runUlimits,
    live: true,
    trailer,
    control: job.control ?? null,
  });

  if (language.compile === undefined) {
    if (ctx.signal?.aborted) return cancelledBeforeStart();
    const input = stdin === null ? archive : Buffer.concat([archive, stdin]);
    return runResult(await runStage(ctx, runPlan(archive.length, input)));
  }

  if (ctx.signal?.aborted) return cancelledBeforeStart();
  const compileLimits = resolveLimits(job.compile_limits ?? undefined, ctx.maxLimits, {
    ...DEFAULT_COMPILE_LIMITS,
    wall_time_ms: ctx.compileWallMs ?? DEFAULT_COMPILE_LIMITS.wall_time_ms,
  }).limits;
  await fitContainer(ctx, ctx.limits, compileLimits);
  const compileUlimits = stageUlimits(compileLimits, ctx.maxLimits);
  const compileTrailer = newStageTrailer(0);
  const { result: compile } = await runStage(ctx, {
    argv: stageArgv(
      archive.length,
      compileUlimits,
      expandArgv(language.compile, language.file),
      compileTrailer,
    ),
    input: archive,
    limits: compileLimits,
    ulimits: compileUlimits,
    live: false,
    trailer: compileTrailer,
  });
  if (compile.reason === 'cancelled') return { ...compile, compile };
  if (compile.reason !== 'exited' || compile.exit_code !== 0) {
    // The run stage did not run. Its text fields repeat the compiler's, so a client reading only
    // `output` and `exit_code` (the seed's contract) still sees why; `compile` is the stage itself.
    return { ...compile, reason: 'compile_failed', wall_ms: 0, cpu_ms: null, compile };
  }
  if (ctx.signal?.aborted) return { ...cancelledBeforeStart(), compile };
  if ((await fitContainer(ctx, compileLimits, ctx.limits)) === 'memory_in_use') {
    return { ...memoryInUse(ctx.limits), compile };
  }
  ctx.onStage?.('run', compile);
  return { ...runResult(await runStage(ctx, runPlan(0, stdin))), compile };
}

/**
 * Give the container a stage's memory and pids limits when they differ from the previous stage's
 * (docker update, ~20 ms). Lowering memory fails while the sandbox holds more than the new limit
 * (tmpfs files count: the compiler's output in /tmp): that is the job's limits, not a fault.
 */
async function fitContainer(ctx: JobContext, from: Limits, to: Limits): Promise<'fitted' | 'memory_in_use'> {
  if (from.memory_bytes === to.memory_bytes && from.pids === to.pids) return 'fitted';
  try {
    await ctx.docker.update(ctx.containerId, { memoryBytes: to.memory_bytes, pids: to.pids });
    return 'fitted';
  } catch (err) {
    if (to.memory_bytes < from.memory_bytes && /unable to set memory limit/i.test(String(err))) {
      return 'memory_in_use';
    }
    throw err;
  }
}

function runResult(run: StageRun): RunResult {
  return run.files === undefined ? run.result : { ...run.result, files: run.files };
}

/** The run stage could not start: what the compile stage left already fills its memory limit. */
function memoryInUse(limits: Limits): RunResult {
  const message =
    `codeexec: the compile stage left more in the sandbox than the run stage's memory_bytes ` +
    `(${limits.memory_bytes}) allows (files in /tmp and /workspace count as memory)\n`;
  return {
    stdout: '',
    stderr: message,
    output: message,
    exit_code: null,
    signal: null,
    reason: 'memory',
    wall_ms: 0,
    truncated: false,
    cpu_ms: null,
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
    cpu_ms: null,
  };
}

/** An error of the sandbox (not of the job's code) as the CodeexecError a caller may see. */
export function sandboxFailure(err: unknown, message: string): CodeexecError {
  if (err instanceof CodeexecError) return err;
  return new CodeexecError('sandbox_failed', `${message}: ${(err as Error)?.message ?? String(err)}`);
}
