// `codeexec runner`: one runner daemon dialling out to CODEEXEC_GATEWAY_URL (one gateway, or several
// separated by commas). A thin main over the runner library: options from the environment, signals
// to drain and stop.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Env, envInt, envList } from '../gateway/gateway-config.js';
import { parseGatewayUrls } from '../runner/connection/gateway-choice.js';
import { createRunner, type RunnerOptions } from '../runner/create-runner.js';
import type { DockerEngineOptions } from '../runner/docker/docker-sandbox.js';
import { DataDirLockedError } from '../runner/identity/data-dir-lock.js';
import type { Runner } from '../runner/runner.js';
import type { Logger } from '../shared/index.js';
import { onSignals } from './signals.js';

/** Default data directories tried in turn when the first is held by a live runner. */
const DEFAULT_DIR_TRIES = 8;

/** Where a runner dials when CODEEXEC_GATEWAY_URL is unset or empty. */
export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:8080';

/**
 * CODEEXEC_GATEWAY_URL: one gateway's base URL, or several separated by commas (the runner dials
 * the first, and the next when one fails or goes away). Throws an Error naming the variable for an
 * entry that is not an http(s):// or ws(s):// URL. Returned as the runner's gatewayUrl takes it.
 */
export function gatewayUrlFromEnv(env: Env): string {
  const text = env.CODEEXEC_GATEWAY_URL?.trim() || DEFAULT_GATEWAY_URL;
  return parseGatewayUrls(text, 'CODEEXEC_GATEWAY_URL').join(',');
}

/** The runner library's options from the environment (README: Configuration). */
export function runnerOptionsFromEnv(
  env: Env,
  gatewayUrl: string,
  token: string,
  log: Logger,
): RunnerOptions {
  const languages = envList(env, 'CODEEXEC_RUNNER_LANGUAGES');
  const docker = dockerFromEnv(env);
  return {
    gatewayUrl,
    token,
    log,
    ...(env.CODEEXEC_RUNNER_NAME ? { name: env.CODEEXEC_RUNNER_NAME } : {}),
    slots: envInt(env, 'CODEEXEC_RUNNER_SLOTS', 1) ?? 2,
    labels: envList(env, 'CODEEXEC_RUNNER_LABELS'),
    minWarm: envInt(env, 'CODEEXEC_POOL_MIN') ?? 1,
    maxWarm: envInt(env, 'CODEEXEC_POOL_MAX', 1) ?? 2,
    minBackoffMs: envInt(env, 'CODEEXEC_RECONNECT_MIN_MS', 1),
    maxBackoffMs: envInt(env, 'CODEEXEC_RECONNECT_MAX_MS', 1),
    ...(languages.length > 0 ? { languages } : {}),
    ...(docker ? { docker } : {}),
    ...metricsPort(env.CODEEXEC_RUNNER_METRICS_PORT, 'CODEEXEC_RUNNER_METRICS_PORT'),
    ...(env.CODEEXEC_RUNNER_METRICS_HOST?.trim()
      ? { metricsHost: env.CODEEXEC_RUNNER_METRICS_HOST.trim() }
      : {}),
  };
}

const RUNNER_ARGS = { 'metrics-port': { type: 'string' }, 'metrics-host': { type: 'string' } } as const;

/**
 * `codeexec runner` and `codeexec dev`'s own options, which win over the environment's:
 * --metrics-port N (0: the OS chooses; the `metrics listening` log line says which) and
 * --metrics-host HOST (default 127.0.0.1). Throws an Error saying what is wrong.
 */
export function runnerArgs(argv: readonly string[]): Pick<RunnerOptions, 'metricsPort' | 'metricsHost'> {
  let values: { 'metrics-port'?: string; 'metrics-host'?: string };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: RUNNER_ARGS,
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new Error(`${(err as Error).message} (the options are --metrics-port N and --metrics-host HOST)`);
  }
  const host = values['metrics-host']?.trim();
  return { ...metricsPort(values['metrics-port'], '--metrics-port'), ...(host ? { metricsHost: host } : {}) };
}

/** A port from the environment or the command line: 0 to 65535; unset or empty, none. */
function metricsPort(raw: string | undefined, name: string): { metricsPort?: number } {
  if (raw === undefined || raw.trim() === '') return {};
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be a port from 0 to 65535, got "${raw}"`);
  }
  return { metricsPort: port };
}

/**
 * The engine from CODEEXEC_DOCKER_SOCKET (a socket path) or CODEEXEC_DOCKER_HOST (DOCKER_HOST's
 * forms: unix:///path, tcp://host:port, http(s)://host:port); neither: dockerode's own default
 * (DOCKER_HOST, else the platform's socket).
 */
export function dockerFromEnv(env: Env): DockerEngineOptions | undefined {
  const socket = env.CODEEXEC_DOCKER_SOCKET?.trim();
  const host = env.CODEEXEC_DOCKER_HOST?.trim();
  if (socket && host) throw new Error('set CODEEXEC_DOCKER_SOCKET or CODEEXEC_DOCKER_HOST, not both');
  if (socket) return { socketPath: socket };
  if (!host) return undefined;
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw new Error(
      `CODEEXEC_DOCKER_HOST must be unix:///path, tcp://host:port or http(s)://host:port, got "${host}"`,
    );
  }
  if (url.protocol === 'unix:' || url.protocol === 'npipe:') return { socketPath: url.pathname };
  if (url.protocol === 'tcp:' || url.protocol === 'http:' || url.protocol === 'https:') {
    return {
      host: url.hostname,
      port: url.port === '' ? (url.protocol === 'https:' ? 2376 : 2375) : Number(url.port),
      protocol: url.protocol === 'https:' ? 'https' : 'http',
    };
  }
  throw new Error(
    `CODEEXEC_DOCKER_HOST must be unix:///path, tcp://host:port or http(s)://host:port, got "${host}"`,
  );
}

/**
 * Creates the runner over its data directory: CODEEXEC_RUNNER_DATA_DIR, else
 * `<CODEEXEC_DATA_DIR or ./data>/runners/<name or default>`. A default directory that a live
 * runner holds gives way to the next one (`…-2`, `…-3`): two `npm start` on one machine both
 * run, each with an identity of its own. An explicit one is refused instead.
 */
export async function createRunnerFromEnv(options: RunnerOptions, env: Env): Promise<Runner> {
  const explicit = env.CODEEXEC_RUNNER_DATA_DIR?.trim();
  if (explicit) return createRunner({ ...options, dataDir: explicit });
  const leaf = (options.name ?? 'default').replace(/[^A-Za-z0-9._-]/g, '-');
  const base = join(env.CODEEXEC_DATA_DIR || './data', 'runners', leaf);
  for (let attempt = 1; ; attempt++) {
    const dataDir = attempt === 1 ? base : `${base}-${attempt}`;
    try {
      return await createRunner({ ...options, dataDir });
    } catch (err) {
      // A named runner's directory held by a live one: the gateway would refuse the name anyway.
      if (!(err instanceof DataDirLockedError) || options.name || attempt >= DEFAULT_DIR_TRIES) throw err;
      options.log?.info({ dir: dataDir, pid: err.pid }, 'runner data directory in use; trying the next');
    }
  }
}

export async function runnerCommand(env: Env, log: Logger, argv = process.argv.slice(3)): Promise<void> {
  const args = runnerArgs(argv);
  const token = env.CODEEXEC_RUNNER_TOKEN;
  if (!token) throw new Error('set CODEEXEC_RUNNER_TOKEN to a token the gateway accepts');
  const gatewayUrl = gatewayUrlFromEnv(env);
  const options = { ...runnerOptionsFromEnv(env, gatewayUrl, token, log), ...args };
  const runner = await createRunnerFromEnv(options, env);
  runner.on('fatal', () => void runner.close().then(() => process.exit(1)));
  // First signal: drain (finish held jobs, take none); second: cancel them and stop now. Set before
  // start(), which may wait a long time for a Docker engine that is not running.
  onSignals(
    log,
    () => runner.drain(),
    () => runner.close(),
  );
  await runner.start();
}
