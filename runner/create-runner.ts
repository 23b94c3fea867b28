// The runner library's entry point. createRunner() claims the runner's data directory (its
// identity, and a lock: one live process per directory) and builds the runner; start() then
// waits for the Docker engine, starts the warm pool and dials the gateway. Between the two an
// embedder subscribes to the runner's events (engine.missing comes before start() resolves).
//
//   const runner = await createRunner({ gatewayUrl, token });
//   runner.on('state', ({ state, reason }) => …);
//   await runner.start();
//
// With `metricsPort`, start() also serves GET /metrics (runner/metrics/) at `runner.metricsUrl`.
import { parseGatewayUrls } from './connection/gateway-choice.js';
import { claimIdentity, defaultDataDir } from './identity/runner-identity.js';
import { Runner } from './runner.js';
import { languagesNamed } from './runner-languages.js';
import { checkPort, checkSlots, type RunnerOptions } from './runner-options.js';

export type { DockerEngineOptions } from './docker/docker-sandbox.js';
export { DataDirLockedError } from './identity/data-dir-lock.js';
export { Runner, type RunnerCaps, type RunnerState } from './runner.js';
export type { ConnectionEvent, JobFinished, JobStarted, RunnerEvents } from './runner-events.js';
export type { RunnerOptions } from './runner-options.js';

/**
 * Rejects with DataDirLockedError (runner/identity/data-dir-lock.ts) when a live process uses the
 * data directory, and with an Error or RangeError for options that cannot work.
 */
export async function createRunner(options: RunnerOptions): Promise<Runner> {
  // Configuration errors first, before anything is claimed.
  parseGatewayUrls(options.gatewayUrl, 'gatewayUrl');
  if (options.slots !== undefined) checkSlots(options.slots);
  if (options.metricsPort !== undefined) checkPort(options.metricsPort, 'metricsPort');
  languagesNamed(options.languages ?? []);
  languagesNamed(options.building ?? []);
  const identity = await claimIdentity(options.dataDir ?? defaultDataDir());
  try {
    return new Runner(options, identity);
  } catch (err) {
    await identity.release();
    throw err;
  }
}
