// What an embedder (the CLI, the desktop app, a test) tells createRunner, with each default.
import type { Logger } from '../shared/index.js';
import type { DockerEngineOptions, DockerSandbox } from './docker/docker-sandbox.js';
import type { PoolDriver } from './pool/sandbox-pool.js';

export interface RunnerOptions {
  /**
   * The gateway's base URL, http(s)://host:port (the WebSocket URL is derived from it); or several,
   * separated by commas (CODEEXEC_GATEWAY_URL's form): the runner dials the first, and moves on to
   * the next when one fails or says it is going away (runner/connection/gateway-choice.ts).
   */
  gatewayUrl: string;
  /**
   * Certificates (PEM) to trust for a wss:// gateway besides the system's: a private CA, or a
   * self-signed one in tests. Verification stays on. (NODE_EXTRA_CA_CERTS does it per process.)
   */
  gatewayCa?: string | Buffer;
  /** An enrollment token the gateway accepts. */
  token: string;
  /**
   * The name the gateway and people see; one live runner per name on a gateway. Default: the
   * host name and the start of the runner's id (unique per data directory, stable across restarts).
   */
  name?: string;
  /** A job that asks for labels goes only to runners that have them all. */
  labels?: readonly string[];
  /** Jobs (and sessions) at once, default 2; setCaps changes it at run time. */
  slots?: number;
  /** Warm containers per language, default 1; at most maxWarm, default max(2, slots). */
  minWarm?: number;
  maxWarm?: number;
  /** Offer only these languages (canonical names); default every one whose image exists. */
  languages?: readonly string[];
  /**
   * Languages whose images are being built elsewhere: the hello says so (jobs for them wait
   * instead of failing), and addLanguage() offers each once built (languageFailed() if not).
   */
  building?: readonly string[];
  /** The Docker engine, as dockerode takes it; default DOCKER_HOST, else the platform's socket. */
  docker?: DockerEngineOptions;
  /**
   * Where the runner keeps its identity (`runner-id`) and its lock (`runner.lock`: one live
   * process per directory). Default ~/.codeexec/runner.
   */
  dataDir?: string;
  /** CPUs per sandbox, default 1; setCaps changes it at run time. */
  cpus?: number;
  /** A cap on any job's memory, bytes (clamped to the runner's maximum); default none. */
  memory?: number;
  /** Start paused: connect, but take nothing until resume(). */
  paused?: boolean;
  log?: Logger;
  /** Reconnect backoff bounds (tests shorten them). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Retry bounds while the Docker engine does not answer, default 1 s doubling to 30 s. */
  engineRetryMinMs?: number;
  engineRetryMaxMs?: number;
  /**
   * Serve GET /metrics (Prometheus text, runner/metrics/) on this port from start() until close();
   * 0: the OS chooses (Runner.metricsUrl says which). Default: no metrics port.
   */
  metricsPort?: number;
  /** The metrics port's address, default 127.0.0.1. */
  metricsHost?: string;
  /** Tests: a driver at the Docker seam (runner/pool/sandbox-pool-fake.ts) instead of the engine. */
  driver?: EngineDriver;
}

/** What the runner needs of the engine: the pool's driver, and a ping to tell whether it is there. */
export type EngineDriver = PoolDriver & Pick<DockerSandbox, 'ping'>;

export const DEFAULT_SLOTS = 2;
/** The hello's bounds (shared/runner-protocol.ts). */
export const MAX_SLOTS = 1024;

/** Throws RangeError for a port no socket can have. */
export function checkPort(port: number, what: string): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`${what} must be an integer from 0 to 65535, got ${port}`);
  }
  return port;
}

/** Throws RangeError for a slot count the protocol cannot carry. */
export function checkSlots(slots: number): number {
  if (!Number.isInteger(slots) || slots < 1 || slots > MAX_SLOTS) {
    throw new RangeError(`slots must be an integer from 1 to ${MAX_SLOTS}, got ${slots}`);
  }
  return slots;
}
