import { describe, expect, it } from 'vitest';
import { hardenedCreateOptions, type SandboxContainerSpec } from './docker-sandbox.js';

const spec: SandboxContainerSpec = {
  image: 'codeexec/python:latest',
  labels: { 'org.codeexec.runner': 'r1' },
  memoryBytes: 256 * 1024 * 1024,
  pids: 128,
  cpus: 1,
  ulimits: { nofile: 1024, fsizeBytes: 1 << 26, cpuSeconds: 61 },
  workspaceBytes: 1 << 26,
  tmpBytes: 1 << 28,
  shmBytes: 1 << 26,
};

describe('hardenedCreateOptions', () => {
  const options = hardenedCreateOptions(spec);
  const host = options.HostConfig ?? {};

  it('isolates the container (DESIGN.md security model)', () => {
    expect(host).toMatchObject({
      NetworkMode: 'none',
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      ReadonlyRootfs: true,
      Init: true,
      IpcMode: 'private',
      Privileged: false,
      Binds: [],
      Devices: [],
      AutoRemove: false,
      LogConfig: { Type: 'none', Config: {} },
    });
    expect(options.User).toBe('10001:10001');
    expect(options.NetworkDisabled).toBe(true);
    expect(host.SecurityOpt).not.toContain('seccomp=unconfined');
  });

  it('caps memory with no swap, CPU and pids', () => {
    expect(host).toMatchObject({
      Memory: spec.memoryBytes,
      MemorySwap: spec.memoryBytes,
      NanoCpus: 1e9,
      PidsLimit: 128,
    });
  });

  it('sets the rlimit ceilings', () => {
    expect(host.Ulimits).toEqual(
      expect.arrayContaining([
        { Name: 'nofile', Soft: 1024, Hard: 1024 },
        { Name: 'fsize', Soft: 1 << 26, Hard: 1 << 26 },
        { Name: 'cpu', Soft: 61, Hard: 61 },
        { Name: 'core', Soft: 0, Hard: 0 },
      ]),
    );
  });

  it('mounts sized, sandbox-owned tmpfs without suid or devices', () => {
    expect(host.Tmpfs).toEqual({
      '/workspace': `rw,nosuid,nodev,exec,size=${1 << 26},mode=0700,uid=10001,gid=10001`,
      '/tmp': `rw,nosuid,nodev,exec,size=${1 << 28},mode=1777,uid=10001,gid=10001`,
    });
  });

  it('labels the container and keeps it up with sleep under the init', () => {
    expect(options.Labels).toEqual({ 'org.codeexec.runner': 'r1' });
    expect(options.Cmd).toEqual(['sleep', 'infinity']);
  });
});
