// One stage (compile or run) as one docker exec: its wall-time timer, output caps and cancel (each
// stops the sandbox: by default the whole container), its live output, the files it left (run
// stage), and how it ended.
import type { OutputFile, StageResult } from '../../shared/job.js';
import type { Limits } from '../../shared/limits.js';
import type { SandboxDriver } from '../docker/docker-sandbox.js';
import { cpuHardReachableMs, decideEnd, type RunnerKill, SIGKILL, stageSignal } from './end-reason.js';
import { type JobControl, MAX_PENDING_STDIN_BYTES, signalArgv } from './job-control.js';
import { OutputFilesCollector } from './output-files.js';
import type { StageTrailer, StageUlimits } from './stage-command.js';
import { type OutputChunk, StageOutput } from './stage-output.js';
import { StdoutTrailer } from './stdout-trailer.js';

export interface StageContext {
  docker: Pick<SandboxDriver, 'exec' | 'kill' | 'waitStopped' | 'inspect'>;
  containerId: string;
  /** CPUs the container has; used to tell a CPU-limit SIGKILL from others. */
  cpus: number;
  onOutput: (chunk: OutputChunk) => void;
  signal?: AbortSignal;
  /** How the stage stops its sandbox and tells an OOM kill; default wholeContainer(). */
  sandbox?: StageSandbox;
}

/**
 * What a stage does to its sandbox when the runner ends it (wall time, output cap, cancel), and how
 * it tells an OOM kill from other SIGKILLs. A pooled job's container is thrown away after the job,
 * so the default kills all of it; a session keeps its container (and files) and kills only the
 * processes in it (pool-session.ts).
 */
export interface StageSandbox {
  /** Make every process of the stage end, so its exec's stream ends. Rejects if it could not. */
  stop(): Promise<void>;
  /** The stage's exec ended with SIGKILL and the runner did not kill it: was it the OOM killer? */
  oomKilled(): Promise<boolean>;
}

/**
 * The whole container: killed on a runner's kill. Docker sets State.OOMKilled only once the
 * container has stopped (verified on 20.10/cgroup v1: false while it runs, true after the kill), so
 * telling an OOM kill stops it too: the container is being thrown away anyway.
 */
export function wholeContainer(ctx: {
  docker: Pick<SandboxDriver, 'kill' | 'waitStopped' | 'inspect'>;
  containerId: string;
}): StageSandbox {
  return {
    stop: () => ctx.docker.kill(ctx.containerId),
    oomKilled: async () => {
      await ctx.docker.kill(ctx.containerId);
      await ctx.docker.waitStopped(ctx.containerId);
      return (await ctx.docker.inspect(ctx.containerId)).oomKilled;
    },
  };
}

export interface StagePlan {
  argv: string[];
  input: Buffer | null;
  /** The stage's limits: wall_time_ms and output_bytes are enforced here, the rest by rlimits/cgroups. */
  limits: Limits;
  /** The rlimits the stage script set (to recognise a CPU-limit kill). */
  ulimits: StageUlimits;
  /** Stream output to ctx.onOutput as it arrives. */
  live: boolean;
  /** What the stage's waiter appends to stdout: its end record, and (archiveBytes > 0) the files. */
  trailer: StageTrailer;
  /** Run stage: signals for the program, and (interactive jobs) its live stdin after `input`. */
  control?: JobControl | null;
}

export interface StageRun {
  result: StageResult;
  /** The files of /workspace/out; undefined when there was no such directory or nothing to read. */
  files?: OutputFile[];
}

/** After stopping the sandbox, how long to wait for docker to end the exec's stream. */
const KILL_GRACE_MS = 3000;

export async function runStage(ctx: StageContext, plan: StagePlan): Promise<StageRun> {
  const onChunk = plan.live ? guarded(ctx.onOutput) : null;
  const output = new StageOutput(plan.limits.output_bytes, onChunk);
  const files = plan.trailer.archiveBytes > 0 ? new OutputFilesCollector() : null;
  const trailer = new StdoutTrailer(
    plan.trailer.marker,
    (data) => output.push('stdout', data),
    (data) => files?.push(data),
  );
  const sandbox = ctx.sandbox ?? wholeContainer(ctx);
  const abandon = new AbortController();
  // Set from callbacks (timer, output, abort): typed wide so the checks after the exec stay honest.
  let killedBy = null as RunnerKill | null;
  let wallTimer: NodeJS.Timeout | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  let startedAt: number | null = null;

  // Wall time, output cap and cancel all stop the sandbox: every process of the stage ends.
  const kill = (why: RunnerKill) => {
    if (killedBy !== null) return;
    killedBy = why;
    sandbox.stop().catch(() => abandon.abort());
    graceTimer = setTimeout(() => abandon.abort(), KILL_GRACE_MS);
  };
  const onCancel = () => kill('cancelled');
  ctx.signal?.addEventListener('abort', onCancel, { once: true });
  const control = plan.control ?? null;
  const stream = control?.input ?? null;
  // A program that leaves its stdin unread while input keeps coming: the runner will not hold
  // more than MAX_PENDING_STDIN_BYTES for it, so the job ends (reason cancelled, said on stderr).
  const onOverflow = () => {
    output.push('stderr', Buffer.from(STDIN_OVERFLOW_NOTE));
    kill('cancelled');
  };
  if (stream !== null) stream.onOverflow = onOverflow;

  let exitCode: number | null;
  try {
    exitCode = await ctx.docker.exec(ctx.containerId, {
      argv: plan.argv,
      input: plan.input,
      ...(stream === null ? {} : { stream }),
      signal: abandon.signal,
      onStarted: () => {
        startedAt = performance.now();
        wallTimer = setTimeout(() => kill('wall_time'), plan.limits.wall_time_ms);
        if (ctx.signal?.aborted) kill('cancelled');
        if (stream?.overflowed) onOverflow();
        control?.runStarted((name) =>
          ctx.docker.exec(ctx.containerId, { argv: signalArgv(name), input: null, onOutput: () => {} }),
        );
      },
      onOutput: (stream, data) => {
        const ok = stream === 'stdout' ? trailer.push(data) : output.push(stream, data);
        if (!ok) kill('output_limit');
      },
    });
  } finally {
    clearTimeout(wallTimer);
    clearTimeout(graceTimer);
    ctx.signal?.removeEventListener('abort', onCancel);
    control?.runEnded();
    if (stream !== null) stream.onOverflow = null;
  }
  const wallMs = startedAt === null ? 0 : Math.round(performance.now() - startedAt);
  // Bytes held back as a possible marker start were the program's. Past the cap they count as
  // an output-limit end, as they would have had they arrived while it ran.
  if (!trailer.end()) killedBy ??= 'output_limit';
  // Only a program that ended by itself has its files collected: once the runner killed the
  // container (wall time, output cap, cancel) the archive is cut or never came.
  const collected =
    files !== null && trailer.filesFollow && killedBy === null ? await files.finish() : undefined;

  // SIGKILL: from the OOM killer, the CPU hard limit, or the program itself. Only the sandbox
  // tells OOM apart (see StageSandbox).
  const program = trailer.programEnd;
  const oomKilled =
    killedBy === null && stageSignal(program, exitCode) === SIGKILL && (await sandbox.oomKilled());

  const end = decideEnd({
    killedBy,
    program,
    exitCode,
    oomKilled,
    // A client's SIGKILL looks the same: past the CPU-limit window it is still the client's.
    cpuLimited: control?.sentKill !== true,
    cpuHardReachableMs: cpuHardReachableMs(plan.ulimits.cpuHardSeconds, ctx.cpus),
    cpuHardMs: plan.ulimits.cpuHardSeconds * 1000,
    wallMs,
  });
  const result: StageResult = { ...output.finish(), ...end, wall_ms: wallMs, cpu_ms: program?.cpuMs ?? null };
  return collected === undefined ? { result } : { result, files: collected };
}

const STDIN_OVERFLOW_NOTE =
  `\ncodeexec: more than ${MAX_PENDING_STDIN_BYTES} bytes of stdin waited for the program to ` +
  'read them; the job was ended\n';

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
