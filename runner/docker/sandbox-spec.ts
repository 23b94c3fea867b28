// The hardened container every sandbox is: what varies per pool (image, labels, sizes) as a spec,
// and the engine's create options built from it with every other setting fixed (DESIGN.md,
// security model).
import type Docker from 'dockerode';

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
