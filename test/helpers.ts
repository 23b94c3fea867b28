// Boot real parts on OS-chosen ports, and register their teardown, for end-to-end tests.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { Gateway, type GatewayOptions } from '../gateway/gateway.js';
import { Runner, type RunnerOptions } from '../runner/runner.js';
import { silentLogger } from '../shared/index.js';

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'codeexec-test-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export async function startGateway(
  options: Partial<GatewayOptions> = {},
): Promise<{ gateway: Gateway; token: string; url: string }> {
  const token = randomBytes(12).toString('hex');
  const gateway = await Gateway.start({
    port: 0,
    dataDir: options.dataDir ?? (await tempDir()),
    runnerTokens: [token],
    log: silentLogger,
    ...options,
  });
  afterAll(() => gateway.close());
  return { gateway, token, url: gateway.url };
}

export async function startRunner(options: Partial<RunnerOptions> & { gatewayUrl: string; token: string }) {
  const runner = await Runner.start({
    name: uniqueName('test-runner'),
    log: silentLogger,
    minWarm: 1,
    maxWarm: 2,
    minBackoffMs: 20,
    maxBackoffMs: 200,
    ...options,
  });
  afterAll(() => runner.close());
  return runner;
}

/** POST JSON (or a raw string) and parse the JSON answer. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = { 'content-type': 'application/json' },
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON came back
): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** Containers labelled as made by this runner, running or not. */
export function containersOf(runnerName: string): string[] {
  return execFileSync('docker', ['ps', '-aq', '--filter', `label=org.codeexec.runner=${runnerName}`], {
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);
}
