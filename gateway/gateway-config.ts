// The gateway's configuration from the environment (README, "Configuration"): every variable
// parsed and checked here, so a typo stops the start with the variable's name instead of a
// silent default.
import { resolve } from 'node:path';
import { parseBusSpec } from './bus/open-bus.js';
import { CallbackAllowlist } from './callbacks/address-policy.js';
import { parseGatewayId } from './fleet/gateway-id.js';
import type { GatewayOptions } from './gateway.js';
import { DEFAULT_OUTPUT_LOG_LIMITS } from './jobs/job-core.js';
import { parseStoreSpec } from './store/open-job-store.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** A comma-separated list, items trimmed, empty ones dropped. */
export function envList(env: Env, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** A whole number ≥ min, or undefined when unset (the library's default then applies). */
export function envInt(env: Env, name: string, min = 0): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new Error(`${name} must be a whole number ≥ ${min}, got "${raw}"`);
  }
  return value;
}

/** A flag: 1/true/yes or 0/false/no (unset: false). */
export function envFlag(env: Env, name: string): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '' || raw === '0' || raw === 'false' || raw === 'no') return false;
  if (raw === '1' || raw === 'true' || raw === 'yes') return true;
  throw new Error(`${name} must be 1 or 0, got "${env[name]}"`);
}

function transportOf(value: string | undefined): 'uws' | 'ws' {
  if (value === undefined || value === '' || value === 'uws') return 'uws';
  if (value === 'ws') return 'ws';
  throw new Error(`CODEEXEC_TRANSPORT must be uws or ws, got "${value}"`);
}

/** The CLI's rate limit is on by default, a generous one (the library's is off). */
export const DEFAULT_RATE_LIMIT = 600;

/** CODEEXEC_RATE_LIMIT (submissions a minute per client, 0: off) and CODEEXEC_RATE_BURST. */
function rateLimitOf(env: Env): GatewayOptions['rateLimit'] {
  const perMinute = envInt(env, 'CODEEXEC_RATE_LIMIT') ?? DEFAULT_RATE_LIMIT;
  const burst = envInt(env, 'CODEEXEC_RATE_BURST', 1);
  const requestsPerMinute = envInt(env, 'CODEEXEC_RATE_LIMIT_ADDRESS', 1);
  return {
    perMinute,
    ...(burst === undefined ? {} : { burst }),
    ...(requestsPerMinute === undefined ? {} : { requestsPerMinute }),
  };
}

/** CODEEXEC_OUTPUT_RETAIN_BYTES: output kept for resume in all; a job keeps at most 16 MiB of it. */
function outputLogOf(env: Env): GatewayOptions['outputLog'] {
  const maxBytes = envInt(env, 'CODEEXEC_OUTPUT_RETAIN_BYTES', 1024);
  if (maxBytes === undefined) return undefined;
  return { maxBytes, maxJobBytes: Math.min(maxBytes, DEFAULT_OUTPUT_LOG_LIMITS.maxJobBytes) };
}

/** A setting checked now (a bad one stops the start, naming it), or undefined when unset. */
function checked(raw: string | undefined, parse: (value: string) => unknown): string | undefined {
  const value = raw?.trim();
  if (!value) return undefined;
  parse(value);
  return value;
}

/** Drops the keys whose value is undefined, so the library's defaults fill them. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** GatewayOptions from the environment; runner tokens are the caller's (dev mode makes one). */
export function gatewayOptionsFromEnv(env: Env, runnerTokens: readonly string[]): GatewayOptions {
  const hours = envInt(env, 'CODEEXEC_RETAIN_HOURS');
  const callbacks = defined({
    attempts: envInt(env, 'CODEEXEC_CALLBACK_ATTEMPTS', 1),
    timeoutMs: envInt(env, 'CODEEXEC_CALLBACK_TIMEOUT_MS', 1),
    secret: env.CODEEXEC_CALLBACK_SECRET || undefined,
    // Parsed here so a bad entry stops the start, naming the variable (Gateway.start parses again).
    allow: CallbackAllowlist.parse(envList(env, 'CODEEXEC_CALLBACK_ALLOW')).entries,
  });
  return defined({
    host: env.HOST || '127.0.0.1',
    port: envInt(env, 'PORT') ?? 8080,
    dataDir: resolve(env.CODEEXEC_DATA_DIR || 'data'),
    store: checked(env.CODEEXEC_STORE, parseStoreSpec),
    bus: checked(env.CODEEXEC_BUS, parseBusSpec),
    gatewayId: checked(env.CODEEXEC_GATEWAY_ID, parseGatewayId),
    fleetTtlMs: envInt(env, 'CODEEXEC_GATEWAY_TTL_MS', 300),
    runnerTokens,
    donorTokens: envList(env, 'CODEEXEC_DONOR_TOKENS'),
    donorMax: defined({
      wall_time_ms: envInt(env, 'CODEEXEC_DONOR_MAX_WALL_TIME_MS', 1),
      cpu_time_ms: envInt(env, 'CODEEXEC_DONOR_MAX_CPU_TIME_MS', 1),
      memory_bytes: envInt(env, 'CODEEXEC_DONOR_MAX_MEMORY_BYTES', 1),
      output_bytes: envInt(env, 'CODEEXEC_DONOR_MAX_OUTPUT_BYTES', 1),
    }),
    adminKeys: envList(env, 'CODEEXEC_ADMIN_KEYS'),
    transport: transportOf(env.CODEEXEC_TRANSPORT),
    apiKeys: envList(env, 'CODEEXEC_API_KEYS'),
    allowPublicWithoutKeys: envFlag(env, 'CODEEXEC_ALLOW_PUBLIC'),
    maxBodyBytes: envInt(env, 'CODEEXEC_MAX_BODY_BYTES', 1024),
    maxJobsPerClient: envInt(env, 'CODEEXEC_MAX_JOBS_PER_KEY'),
    maxQueue: envInt(env, 'CODEEXEC_MAX_QUEUE'),
    rateLimit: rateLimitOf(env),
    queueTimeoutMs: envInt(env, 'CODEEXEC_QUEUE_TIMEOUT_MS', 1),
    heartbeatMs: envInt(env, 'CODEEXEC_HEARTBEAT_MS', 10),
    leaseMs: envInt(env, 'CODEEXEC_LEASE_MS', 10),
    pingMs: envInt(env, 'CODEEXEC_PING_MS', 100),
    maxAttempts: envInt(env, 'CODEEXEC_MAX_ATTEMPTS', 1),
    retainJobs: envInt(env, 'CODEEXEC_RETAIN_JOBS'),
    retainMs: hours === undefined ? undefined : hours * 3600_000,
    storeOutputBytes: envInt(env, 'CODEEXEC_STORE_OUTPUT_BYTES', 1024),
    outputLog: outputLogOf(env),
    goawayReconnectMs: envInt(env, 'CODEEXEC_GOAWAY_RECONNECT_MS'),
    durableBeforeOffer:
      env.CODEEXEC_DURABLE_BEFORE_OFFER === undefined
        ? undefined
        : envFlag(env, 'CODEEXEC_DURABLE_BEFORE_OFFER'),
    callbacks,
  });
}
