// The driver's vocabulary: what an exec is asked to do, what a container reports, an exec started
// ahead of its job, and the seam (SandboxDriver) the pool and a fake for unit tests fill.
import type { Writable } from 'node:stream';
import type { StreamName } from './demux.js';
import type { DockerSandbox } from './docker-sandbox.js';

export interface ExecRequest {
  argv: readonly string[];
  /** Written to the process's stdin, which is then closed (EOF) unless `stream` is set. */
  input: Buffer | null;
  /** Interactive stdin: after `input`, the rest of stdin flows from here, and it closes it. */
  stream?: StreamedInput;
  onOutput: (stream: StreamName, data: Buffer) => void;
  /** Called once the process is attached and running. */
  onStarted?: () => void;
  /** Abandons the attach stream (kill the container first); exec then resolves with null. */
  signal?: AbortSignal;
}

/** A source of stdin that writes into the exec's stream as it can, and ends it (runner/job-control.ts). */
export interface StreamedInput {
  attach(sink: Writable): void;
}

export interface ContainerState {
  running: boolean;
  oomKilled: boolean;
}

/** What a container holds right now: its processes (threads count) and memory (page cache included). */
export interface ContainerUsage {
  pids: number;
  memoryBytes: number;
}

/**
 * An exec started before its job: `docker exec` costs ~70 ms of runc work on a 2-core machine, so
 * the pool pays it while the container is warm. The process is bash waiting on stdin for the argv
 * to run (see LAUNCHER_SCRIPT); the job's exec then costs one write.
 */
export interface PreparedExec {
  /** False once the process ended or its stream broke (the container died, or it was discarded). */
  readonly alive: boolean;
  /** Like DockerSandbox.exec, once. Throws ExecNotStartedError when no longer alive: nothing ran. */
  run(request: ExecRequest): Promise<number | null>;
  /** Close its stdin unused; the waiting bash exits. */
  discard(): void;
}

/**
 * The engine operations a driver times: `create` and `start` a container, set up an `exec`
 * (docker's exec create and attach, for a job or prepared ahead of one; not the program's run),
 * `remove` a container.
 */
export type ContainerOp = 'create' | 'start' | 'exec' | 'remove';

/** One timed engine operation (metrics: runner/metrics/runner-metrics.ts). */
export interface ContainerOperation {
  op: ContainerOp;
  seconds: number;
  /** The engine refused it or did not answer. */
  failed: boolean;
}

/** What the pool needs of the driver: the seam a fake fills in unit tests. */
export type SandboxDriver = Pick<
  DockerSandbox,
  | 'imageExists'
  | 'createAndStart'
  | 'exec'
  | 'inspect'
  | 'kill'
  | 'waitStopped'
  | 'remove'
  | 'listByLabel'
  | 'update'
  | 'watchDeaths'
>;
