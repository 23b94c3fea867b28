// The Docker driver: the one class that talks to the engine through dockerode (only runner/docker/
// imports it). Thin on purpose: hardened create, exec with a stdin buffer and demultiplexed
// output, inspect, kill, remove, list, update, events. Policy (pooling, limits, end reasons)
// lives in the pool and execute-job, not here. It does tell the engine's failures from the
// program's: an exec that never started, a container lost under an exec, an engine not there.
import type { Duplex } from 'node:stream';
import Docker from 'dockerode';
import { OutputHead, pump } from './exec-stream.js';
import { LAUNCHER_SCRIPT } from './launcher.js';
import { preparedExec } from './prepared-exec.js';
import type {
  ContainerOp,
  ContainerOperation,
  ContainerState,
  ContainerUsage,
  ExecRequest,
  PreparedExec,
} from './sandbox-driver.js';
import {
  EngineUnreachableError,
  ExecNotStartedError,
  isEngineUnreachable,
  SandboxLostError,
} from './sandbox-errors.js';
import { hardenedCreateOptions, type SandboxContainerSpec, WORKSPACE } from './sandbox-spec.js';

export { LAUNCHER_SCRIPT, launcherHeader } from './launcher.js';
export type {
  ContainerOp,
  ContainerOperation,
  ContainerState,
  ContainerUsage,
  ExecRequest,
  PreparedExec,
  SandboxDriver,
  StreamedInput,
} from './sandbox-driver.js';
export { ExecNotStartedError, SandboxLostError } from './sandbox-errors.js';
export { hardenedCreateOptions, SANDBOX_UID, type SandboxContainerSpec, WORKSPACE } from './sandbox-spec.js';

/** Which engine to use, as dockerode takes it; none: DOCKER_HOST, else the platform's socket. */
export interface DockerEngineOptions {
  socketPath?: string;
  host?: string;
  port?: number;
  protocol?: 'http' | 'https';
}

/** What a DockerSandbox tells its owner besides its answers. */
export interface DockerSandboxHooks {
  /** Each create, start, exec set-up and remove, timed (also when it failed). */
  onOperation?: (operation: ContainerOperation) => void;
}

const EXIT_CODE_POLL_MS = 10;
const EXIT_CODE_POLLS = 100;
/** What docker reports for an exec it could not start (with Pid 0); its error is the "output". */
const EXEC_START_FAILED = 126;

export class DockerSandbox {
  private readonly docker: Docker;
  private readonly onOperation: ((operation: ContainerOperation) => void) | undefined;
  /** Where the engine is, for messages: unix:///var/run/docker.sock, tcp://host:2375, … */
  readonly target: string;

  constructor(options?: DockerEngineOptions, hooks: DockerSandboxHooks = {}) {
    this.docker = new Docker(options);
    this.target = engineTarget(options);
    this.onOperation = hooks.onOperation;
  }

  /** Resolves when the engine answers; rejects with EngineUnreachableError (how to fix it) if not. */
  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (err) {
      throw new EngineUnreachableError(err, this.target);
    }
  }

  async imageExists(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  /** Create and start a hardened container; returns its id. Removes it again if start fails. */
  async createAndStart(spec: SandboxContainerSpec): Promise<string> {
    const container = await this.timed('create', () =>
      this.docker.createContainer(hardenedCreateOptions(spec)),
    );
    try {
      await this.timed('start', () => container.start());
    } catch (err) {
      await this.remove(container.id);
      throw err;
    }
    return container.id;
  }

  /** Run argv in the container; resolves with its exit code (null if abandoned or unknown). */
  async exec(containerId: string, request: ExecRequest): Promise<number | null> {
    let exec: Docker.Exec;
    let socket: Duplex;
    try {
      [exec, socket] = await this.timed('exec', () => this.startExec(containerId, request.argv));
    } catch (err) {
      throw new ExecNotStartedError(err);
    }
    request.onStarted?.();
    const head = new OutputHead(request.onOutput);
    const end = await pump(socket, { ...request, onOutput: head.onOutput });
    if (end === 'abandoned') return null;
    if (end === 'corrupt') throw new Error('docker exec: the output stream is not a multiplexed stream');
    return this.exitCode(exec, () => head.said);
  }

  /**
   * The exec's exit code once docker reports it ended (it may say running for a moment after the
   * stream ended). An exec docker accepted but could not start (the container was dying: "cannot
   * exec in a deleted state") ends with Pid 0 and 126, its error printed as the process's output:
   * nothing ran. An exec that is gone went with its container.
   */
  private async exitCode(exec: Docker.Exec, said: () => string): Promise<number | null> {
    for (let i = 0; i < EXIT_CODE_POLLS; i++) {
      let info: Docker.ExecInspectInfo;
      try {
        info = await exec.inspect();
      } catch (err) {
        if (statusOf(err) === 404) throw new SandboxLostError('its exec is gone with it', err);
        if (isEngineUnreachable(err)) throw new EngineUnreachableError(err, this.target);
        throw err;
      }
      if (!info.Running) {
        if (info.Pid === 0 && info.ExitCode === EXEC_START_FAILED) {
          throw new ExecNotStartedError(new Error(`the engine could not start it${said()}`));
        }
        return info.ExitCode ?? null;
      }
      await new Promise((resolve) => setTimeout(resolve, EXIT_CODE_POLL_MS));
    }
    return null;
  }

  /** Rejects with SandboxLostError when the container no longer exists. */
  async inspect(containerId: string): Promise<ContainerState> {
    try {
      const info = await this.docker.getContainer(containerId).inspect();
      return { running: info.State.Running, oomKilled: info.State.OOMKilled };
    } catch (err) {
      if (statusOf(err) === 404) throw new SandboxLostError('it no longer exists', err);
      throw err;
    }
  }

  /** SIGKILL the whole container; a container that is already gone or stopped is fine. */
  async kill(containerId: string): Promise<void> {
    try {
      await this.docker.getContainer(containerId).kill({ signal: 'SIGKILL' });
    } catch (err) {
      if (statusOf(err) !== 404 && statusOf(err) !== 409) throw err;
    }
  }

  /** Resolves once the container is not running. */
  async waitStopped(containerId: string): Promise<void> {
    try {
      await this.docker.getContainer(containerId).wait({ condition: 'not-running' });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  /** Kill and remove (with its anonymous volumes); a container already gone is fine. */
  async remove(containerId: string): Promise<void> {
    await this.timed('remove', async () => {
      try {
        await this.docker.getContainer(containerId).remove({ force: true, v: true });
      } catch (err) {
        // 409: removal already in progress (another caller got there first).
        if (statusOf(err) !== 404 && statusOf(err) !== 409) throw err;
      }
    });
  }

  /** Ids of all containers (running or not) carrying label `key=value`. */
  async listByLabel(key: string, value: string): Promise<string[]> {
    const list = await this.docker.listContainers({ all: true, filters: { label: [`${key}=${value}`] } });
    return list.map((c) => c.Id);
  }

  /**
   * Change the memory (swap kept equal: no swap) and pids limits of a running container, and its
   * CPU quota when `cpus` is given.
   */
  async update(
    containerId: string,
    limits: { memoryBytes: number; pids: number; cpus?: number },
  ): Promise<void> {
    await this.docker.getContainer(containerId).update({
      Memory: limits.memoryBytes,
      MemorySwap: limits.memoryBytes,
      PidsLimit: limits.pids,
      ...(limits.cpus === undefined ? {} : { NanoCpus: Math.round(limits.cpus * 1e9) }),
    });
  }

  /**
   * Start a launcher exec in the container (see PreparedExec). `onEnd` fires once if it ends before
   * run() (the container died or the process failed), so a pool can drop the container at once.
   */
  async prepareExec(containerId: string, onEnd: () => void = () => {}): Promise<PreparedExec> {
    const [exec, socket] = await this.timed('exec', () =>
      this.startExec(containerId, ['bash', '-c', LAUNCHER_SCRIPT, 'launcher']),
    );
    return preparedExec(socket, onEnd, (said) => this.exitCode(exec, said));
  }

  /** docker exec: create it and attach to its stdin and output. */
  private async startExec(containerId: string, argv: readonly string[]): Promise<[Docker.Exec, Duplex]> {
    const exec = await this.docker.getContainer(containerId).exec({
      Cmd: [...argv],
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      WorkingDir: WORKSPACE,
    });
    const socket = (await exec.start({ hijack: true, stdin: true })) as Duplex;
    return [exec, socket];
  }

  /** Runs one engine operation, and tells onOperation how long it took. */
  private async timed<T>(op: ContainerOp, operation: () => Promise<T>): Promise<T> {
    const report = this.onOperation;
    if (report === undefined) return operation();
    const started = performance.now();
    let failed = true;
    try {
      const value = await operation();
      failed = false;
      return value;
    } finally {
      report({ op, seconds: (performance.now() - started) / 1000, failed });
    }
  }

  /** Processes and memory of a container (one stats sample, ~5 ms); zeros once it has stopped. */
  async usage(containerId: string): Promise<ContainerUsage> {
    const stats = await this.docker.getContainer(containerId).stats({ stream: false, 'one-shot': true });
    return { pids: stats.pids_stats?.current ?? 0, memoryBytes: stats.memory_stats?.usage ?? 0 };
  }

  /**
   * Follow `die` events of containers labelled `key=value`. Returns a function that stops it;
   * onEnd fires if the engine closes the stream (not after stop).
   */
  async watchDeaths(
    key: string,
    value: string,
    onDie: (containerId: string) => void,
    onEnd: () => void,
  ): Promise<() => void> {
    const stream = (await this.docker.getEvents({
      filters: { type: ['container'], event: ['die'], label: [`${key}=${value}`] },
    })) as NodeJS.ReadableStream & { destroy(): void };
    let stopped = false;
    let partial = '';
    stream.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const id = dieEventId(line);
        if (id !== null) onDie(id);
      }
    });
    const ended = () => {
      if (!stopped) {
        stopped = true;
        onEnd();
      }
    };
    stream.on('end', ended);
    stream.on('close', ended);
    stream.on('error', ended);
    return () => {
      stopped = true;
      stream.destroy();
    };
  }
}

/** Where dockerode will connect with these options (docker-modem's own defaults otherwise). */
function engineTarget(options: DockerEngineOptions | undefined): string {
  if (options?.socketPath !== undefined) return `unix://${options.socketPath}`;
  if (options?.host !== undefined) {
    return `${options.protocol ?? 'http'}://${options.host}:${options.port ?? 2375}`;
  }
  if (process.env.DOCKER_HOST) return process.env.DOCKER_HOST;
  return process.platform === 'win32' ? 'npipe:////./pipe/docker_engine' : 'unix:///var/run/docker.sock';
}

function dieEventId(line: string): string | null {
  if (line.trim() === '') return null;
  try {
    const event = JSON.parse(line) as { Action?: string; id?: string; Actor?: { ID?: string } };
    if (event.Action !== 'die') return null;
    return event.Actor?.ID ?? event.id ?? null;
  } catch {
    return null;
  }
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number } | null)?.statusCode;
}
