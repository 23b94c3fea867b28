// `codeexec runner`'s environment: the Docker engine it names, and the data directory it picks
// (a default one held by a live runner gives way to the next; an explicit or named one does not).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { DataDirLockedError } from '../runner/identity/data-dir-lock.js';
import type { Runner } from '../runner/runner.js';
import { silentLogger } from '../shared/log.js';
import {
  createRunnerFromEnv,
  dockerFromEnv,
  gatewayUrlFromEnv,
  runnerArgs,
  runnerOptionsFromEnv,
} from './runner.js';

describe('dockerFromEnv', () => {
  it.each([
    [{}, undefined],
    [{ CODEEXEC_DOCKER_SOCKET: '/run/user/1000/docker.sock' }, { socketPath: '/run/user/1000/docker.sock' }],
    [{ CODEEXEC_DOCKER_HOST: 'unix:///var/run/docker.sock' }, { socketPath: '/var/run/docker.sock' }],
    [{ CODEEXEC_DOCKER_HOST: 'tcp://10.0.0.5:2375' }, { host: '10.0.0.5', port: 2375, protocol: 'http' }],
    [{ CODEEXEC_DOCKER_HOST: 'tcp://engine' }, { host: 'engine', port: 2375, protocol: 'http' }],
    [{ CODEEXEC_DOCKER_HOST: 'https://engine:2376' }, { host: 'engine', port: 2376, protocol: 'https' }],
  ])('%j → %j', (env, expected) => {
    expect(dockerFromEnv(env)).toEqual(expected);
  });

  it.each([
    [{ CODEEXEC_DOCKER_HOST: 'ssh://me@engine' }, /CODEEXEC_DOCKER_HOST must be/],
    [{ CODEEXEC_DOCKER_HOST: 'engine:2375' }, /CODEEXEC_DOCKER_HOST must be/],
    [{ CODEEXEC_DOCKER_HOST: 'tcp://a:1', CODEEXEC_DOCKER_SOCKET: '/s' }, /not both/],
  ])('refuses %j', (env, message) => {
    expect(() => dockerFromEnv(env)).toThrow(message);
  });
});

describe('gatewayUrlFromEnv', () => {
  it.each([
    [{}, 'http://127.0.0.1:8080'],
    [{ CODEEXEC_GATEWAY_URL: ' ' }, 'http://127.0.0.1:8080'],
    [{ CODEEXEC_GATEWAY_URL: 'https://gw.example' }, 'https://gw.example'],
    [
      { CODEEXEC_GATEWAY_URL: 'https://a.example, https://b.example ' },
      'https://a.example,https://b.example',
    ],
  ])('%j → %j', (env, expected) => {
    expect(gatewayUrlFromEnv(env)).toBe(expected);
  });

  it.each([
    [
      { CODEEXEC_GATEWAY_URL: 'https://a.example, gw-b:8080' },
      /CODEEXEC_GATEWAY_URL must hold .*"gw-b:8080"/,
    ],
    [{ CODEEXEC_GATEWAY_URL: 'https://a.example,,https://b' }, /CODEEXEC_GATEWAY_URL .*empty entry/],
  ])('refuses %j', (env, message) => {
    expect(() => gatewayUrlFromEnv(env)).toThrow(message);
  });
});

describe('the metrics port', () => {
  const fromEnv = (env: Record<string, string>) => {
    const { metricsPort, metricsHost } = runnerOptionsFromEnv(env, 'http://gw', 't', silentLogger);
    return { metricsPort, metricsHost };
  };

  it.each([
    [{}, { metricsPort: undefined, metricsHost: undefined }],
    [{ CODEEXEC_RUNNER_METRICS_PORT: '' }, { metricsPort: undefined, metricsHost: undefined }],
    [{ CODEEXEC_RUNNER_METRICS_PORT: '9464' }, { metricsPort: 9464, metricsHost: undefined }],
    [
      { CODEEXEC_RUNNER_METRICS_PORT: '0', CODEEXEC_RUNNER_METRICS_HOST: '0.0.0.0' },
      { metricsPort: 0, metricsHost: '0.0.0.0' },
    ],
  ])('env %j → %j', (env, expected) => {
    expect(fromEnv(env)).toEqual(expected);
  });

  it.each([
    [[], {}],
    [['--metrics-port', '0'], { metricsPort: 0 }],
    [['--metrics-port=9464', '--metrics-host', '::1'], { metricsPort: 9464, metricsHost: '::1' }],
  ])('args %j → %j', (argv, expected) => {
    expect(runnerArgs(argv)).toEqual(expected);
  });

  it.each([
    [() => fromEnv({ CODEEXEC_RUNNER_METRICS_PORT: '65536' }), /CODEEXEC_RUNNER_METRICS_PORT must be a port/],
    [() => fromEnv({ CODEEXEC_RUNNER_METRICS_PORT: 'x' }), /CODEEXEC_RUNNER_METRICS_PORT must be a port/],
    [() => runnerArgs(['--metrics-port=-1']), /--metrics-port must be a port/],
    [() => runnerArgs(['--metrics-port']), /--metrics-port N/],
    [() => runnerArgs(['--nope']), /Unknown option '--nope'/],
    [() => runnerArgs(['extra']), /positional/],
  ])('refuses %#', (parse, message) => {
    expect(parse).toThrow(message);
  });
});

describe('createRunnerFromEnv', () => {
  async function dataDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'codeexec-cli-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  async function create(env: Record<string, string>): Promise<Runner> {
    const options = runnerOptionsFromEnv(env, 'http://127.0.0.1:9', 'token', silentLogger);
    const runner = await createRunnerFromEnv(options, env);
    onTestFinished(() => runner.close());
    return runner;
  }

  it('gives a second unnamed runner the next default directory, and a name of its own', async () => {
    const base = await dataDir();
    const first = await create({ CODEEXEC_DATA_DIR: base });
    const second = await create({ CODEEXEC_DATA_DIR: base });
    expect(first.dataDir).toBe(join(base, 'runners', 'default'));
    expect(second.dataDir).toBe(join(base, 'runners', 'default-2'));
    expect(second.id).not.toBe(first.id);
    expect(second.name).not.toBe(first.name);
  });

  it('keeps a named runner in its own directory, and refuses a second one of that name', async () => {
    const base = await dataDir();
    const named = await create({ CODEEXEC_DATA_DIR: base, CODEEXEC_RUNNER_NAME: 'build/box 1' });
    expect(named.dataDir).toBe(join(base, 'runners', 'build-box-1'));
    expect(named.name).toBe('build/box 1');
    await expect(
      create({ CODEEXEC_DATA_DIR: base, CODEEXEC_RUNNER_NAME: 'build/box 1' }),
    ).rejects.toBeInstanceOf(DataDirLockedError);
  });

  it('uses CODEEXEC_RUNNER_DATA_DIR as it is, and refuses it while held', async () => {
    const dir = join(await dataDir(), 'mine');
    const runner = await create({ CODEEXEC_RUNNER_DATA_DIR: dir });
    expect(runner.dataDir).toBe(dir);
    await expect(create({ CODEEXEC_RUNNER_DATA_DIR: dir })).rejects.toThrow(/in use by process/);
    await runner.close();
    expect((await create({ CODEEXEC_RUNNER_DATA_DIR: dir })).id).toBe(runner.id);
  });
});
