// The Docker driver: the only file that imports dockerode. Thin on purpose: hardened create,
// exec with a stdin buffer and demultiplexed output, inspect, kill, remove, list, update, events.
// Policy (pooling, limits, end reasons) lives in the pool and execute-job, not here.
import type { Duplex, Writable } from 'node:stream';
import Docker from 'dockerode';
import { DockerStreamDemuxer, type StreamName } from './demux.js';

/** What a sandbox container is made of; every other setting is fixed hardening. */
export interface SandboxContainerSpec {
  image: string;
  labels: Readonly<Record<string, string>>;
  memoryBytes: number;
  pids: number;
  /** CPUs the whole container may use (fractions allowed). */
  cpus: number;
  /** Container-wide rlimits: the runner's ceilings; a stage lowers them for itself with `ulimit`. */
  ulimits: { nofile: number; fsizeBytes: number; cpuSeconds: number };
  workspaceBytes: number;
  tmpBytes: number;
  shmBytes: number;
}

export const SANDBOX_UID = 10001;
export const WORKSPACE = '/workspace';

/** The create options: every container is built this way (DESIGN.md, security model). */
export function hardenedCreateOptions(spec: SandboxContainerSpec): Docker.ContainerCreateOptions {
  const owner = `uid=${SANDBOX_UID},gid=${SANDBOX_UID}`;
  const ulimit = (Name: string, value: number) => ({ Name, Soft: value, Hard: value });
  return {
    Image: spec.image,
    // docker-init (Init) is PID 1 and reaps zombies; sleep keeps the container up for execs.
    Cmd: ['sleep', 'infinity'],
    User: `${SANDBOX_UID}:${SANDBOX_UID}`,
    WorkingDir: WORKSPACE,
    Labels: { ...spec.labels },
    NetworkDisabled: true,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    StopTimeout: 1,
    HostConfig: {
      NetworkMode: 'none',
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      ReadonlyRootfs: true,
      // exec is allowed (compiled programs run from /tmp); suid and device files are not.
      Tmpfs: {
        [WORKSPACE]: `rw,nosuid,nodev,exec,size=${spec.workspaceBytes},mode=0700,${owner}`,
        '/tmp': `rw,nosuid,nodev,exec,size=${spec.tmpBytes},mode=1777,${owner}`,
      },
      Memory: spec.memoryBytes,
      MemorySwap: spec.memoryBytes,
      NanoCpus: Math.round(spec.cpus * 1e9),
      PidsLimit: spec.pids,
      Ulimits: [
        ulimit('nofile', spec.ulimits.nofile),
        ulimit('fsize', spec.ulimits.fsizeBytes),
        ulimit('cpu', spec.ulimits.cpuSeconds),
        ulimit('core', 0),
      ],
      Init: true,
      IpcMode: 'private',
      ShmSize: spec.shmBytes,
      LogConfig: { Type: 'none', Config: {} },
      AutoRemove: false,
      Privileged: false,
      Binds: [],
      Devices: [],
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    },
  };
}

/** The exec could not be started; the program never ran, so running it elsewhere is safe. */
export class ExecNotStartedError extends Error {
  constructor(cause: unknown) {
    super(`docker exec did not start: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'ExecNotStartedError';
  }
}

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
 * Reads a NUL-terminated count, then that many NUL-terminated arguments, from stdin and execs them;
 * the rest of stdin is the program's. bash's `read` takes one byte at a time from a pipe, so it never
 * consumes past its delimiter. No argument is ever parsed by a shell: argv stays an array end to end.
 * Just before the exec it writes one NUL to stderr: the first stderr byte then tells "the program
 * was launched" from "the launcher died or failed first" (nothing ran: safe to run elsewhere).
 */
export const LAUNCHER_SCRIPT = [
  'IFS= read -r -d "" n || exit 125',
  'case $n in "" | 0 | *[!0-9]*) exit 125 ;; esac',
  'a=()',
  'for ((i = 0; i < n; i++)); do IFS= read -r -d "" x || exit 125; a+=("$x"); done',
  "printf '\\0' >&2",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's array expansion, not a template
  'exec "${a[@]}"',
].join('\n');

/** The bytes that tell a launcher which argv to exec. */
export function launcherHeader(argv: readonly string[]): Buffer {
  if (argv.length === 0) throw new Error('A launcher needs a program to run');
  for (const arg of argv) if (arg.includes('\0')) throw new Error('An argument cannot contain NUL');
  return Buffer.from([String(argv.length), ...argv].map((field) => `${field}\0`).join(''), 'utf8');
}

const EXIT_CODE_POLL_MS = 10;
const EXIT_CODE_POLLS = 100;

export class DockerSandbox {
  private readonly docker: Docker;

  constructor(options?: Docker.DockerOptions) {
    this.docker = new Docker(options);
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
    const container = await this.docker.createContainer(hardenedCreateOptions(spec));
    try {
      await container.start();
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
      exec = await this.docker.getContainer(containerId).exec({
        Cmd: [...request.argv],
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        WorkingDir: WORKSPACE,
      });
      socket = (await exec.start({ hijack: true, stdin: true })) as Duplex;
    } catch (err) {
      throw new ExecNotStartedError(err);
    }
    request.onStarted?.();
    const end = await pump(socket, request);
    if (end === 'abandoned') return null;
    if (end === 'corrupt') throw new Error('docker exec: the output stream is not a multiplexed stream');
    return this.exitCode(exec);
  }

  /** Docker may report the exec as running for a moment after its stream ended. */
  private async exitCode(exec: Docker.Exec): Promise<number | null> {
    for (let i = 0; i < EXIT_CODE_POLLS; i++) {
      const info = await exec.inspect();
      if (!info.Running) return info.ExitCode ?? null;
      await new Promise((resolve) => setTimeout(resolve, EXIT_CODE_POLL_MS));
    }
    return null;
  }

  async inspect(containerId: string): Promise<ContainerState> {
    const info = await this.docker.getContainer(containerId).inspect();
    return { running: info.State.Running, oomKilled: info.State.OOMKilled };
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
    try {
      await this.docker.getContainer(containerId).remove({ force: true, v: true });
    } catch (err) {
      // 409: removal already in progress (another caller got there first).
      if (statusOf(err) !== 404 && statusOf(err) !== 409) throw err;
    }
  }

  /** Ids of all containers (running or not) carrying label `key=value`. */
  async listByLabel(key: string, value: string): Promise<string[]> {
    const list = await this.docker.listContainers({ all: true, filters: { label: [`${key}=${value}`] } });
    return list.map((c) => c.Id);
  }

  /** Change the memory (swap kept equal: no swap) and pids limits of a running container. */
  async update(containerId: string, limits: { memoryBytes: number; pids: number }): Promise<void> {
    await this.docker.getContainer(containerId).update({
      Memory: limits.memoryBytes,
      MemorySwap: limits.memoryBytes,
      PidsLimit: limits.pids,
    });
  }

  /**
   * Start a launcher exec in the container (see PreparedExec). `onEnd` fires once if it ends before
   * run() (the container died or the process failed), so a pool can drop the container at once.
   */
  async prepareExec(containerId: string, onEnd: () => void = () => {}): Promise<PreparedExec> {
    const exec = await this.docker.getContainer(containerId).exec({
      Cmd: ['bash', '-c', LAUNCHER_SCRIPT, 'launcher'],
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      WorkingDir: WORKSPACE,
    });
    const socket = (await exec.start({ hijack: true, stdin: true })) as Duplex;
    let state: 'waiting' | 'running' | 'ended' = 'waiting';
    // Anything bash says before run() (an error) is kept for the demultiplexer, in order.
    const early: Buffer[] = [];
    const onData = (chunk: Buffer) => early.push(chunk);
    const onGone = () => {
      if (state !== 'waiting') return;
      state = 'ended';
      onEnd();
    };
    const detach = () => {
      socket.off('data', onData);
      socket.off('end', onGone);
      socket.off('close', onGone);
      socket.off('error', onGone);
    };
    socket.on('data', onData);
    socket.on('end', onGone);
    socket.on('close', onGone);
    socket.on('error', onGone);
    return {
      get alive() {
        return state === 'waiting' && !socket.destroyed;
      },
      run: async (request) => {
        if (state !== 'waiting' || socket.destroyed) {
          state = 'ended';
          detach();
          socket.destroy();
          throw new ExecNotStartedError(new Error('the prepared exec has ended'));
        }
        state = 'running';
        // Synchronous from here to pump()'s listeners: no chunk can slip between them.
        detach();
        if (early.length > 0) socket.unshift(Buffer.concat(early));
        const header = launcherHeader(request.argv);
        const input = request.input === null ? header : Buffer.concat([header, request.input]);
        const ack = new LaunchAck(request.onOutput);
        request.onStarted?.();
        const end = await pump(socket, { ...request, input, onOutput: ack.onOutput });
        if (end === 'abandoned') return null;
        if (end === 'corrupt') throw new Error('docker exec: the output stream is not a multiplexed stream');
        if (!ack.launched) throw new ExecNotStartedError(new Error(`the launcher ended first${ack.said}`));
        return this.exitCode(exec);
      },
      discard: () => {
        if (state === 'waiting') state = 'ended';
        detach();
        socket.on('error', () => {});
        socket.destroy();
      },
    };
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

type PumpEnd = 'ended' | 'abandoned' | 'corrupt';

/** Strips the launcher's NUL from stderr and tells whether the program was launched. */
class LaunchAck {
  launched = false;
  private stderrSeen = false;
  private early = '';
  readonly onOutput: (stream: StreamName, data: Buffer) => void;

  constructor(forward: (stream: StreamName, data: Buffer) => void) {
    this.onOutput = (stream, data) => {
      let rest = data;
      if (stream === 'stdout') this.launched = true; // stdout may overtake the NUL: docker reads two pipes
      if (stream === 'stderr' && !this.stderrSeen) {
        this.stderrSeen = true;
        if (data[0] === 0) {
          this.launched = true;
          rest = data.subarray(1);
        }
      }
      if (!this.launched) {
        this.early += data.toString('utf8');
        return;
      }
      if (rest.length > 0) forward(stream, rest);
    };
  }

  get said(): string {
    const text = this.early.trim().slice(0, 200);
    return text === '' ? '' : `: ${text}`;
  }
}

/** Write the input, close stdin, demultiplex the output until the stream ends. */
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

function pump(socket: Duplex, request: ExecRequest): Promise<PumpEnd> {
  return new Promise((resolve) => {
    const demuxer = new DockerStreamDemuxer(request.onOutput);
    let settled = false;
    const settle = (end: PumpEnd) => {
      if (settled) return;
      settled = true;
      request.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(end);
    };
    const onAbort = () => settle('abandoned');
    if (request.signal?.aborted) return settle('abandoned');
    request.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('data', (chunk: Buffer) => {
      if (settled) return;
      try {
        demuxer.push(chunk);
      } catch {
        settle('corrupt');
      }
    });
    socket.on('end', () => settle('ended'));
    socket.on('close', () => settle('ended'));
    // EPIPE/ECONNRESET when the program exits without reading all its stdin: the output that
    // was sent before is already read (libuv reads before it writes); 'close' follows.
    socket.on('error', () => {});
    if (request.input !== null && request.input.length > 0) socket.write(request.input);
    if (request.stream) request.stream.attach(socket);
    else socket.end();
  });
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
