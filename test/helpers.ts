// Boot real parts on OS-chosen ports, and register their teardown, for end-to-end tests.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, onTestFinished } from 'vitest';
import { Gateway, type GatewayOptions } from '../gateway/gateway.js';
import { createRunner, type RunnerOptions } from '../runner/create-runner.js';
import { silentLogger } from '../shared/index.js';

export { freePort } from './free-port.js';

/**
 * Cleanups of what a file's hooks started. vitest ignores `afterAll` registered from inside a
 * hook or a test, so they are kept here and run by the one afterAll this module registers when
 * a test file imports it (modules are isolated per file, so this list is the file's own).
 */
const fileCleanups: (() => unknown)[] = [];
afterAll(async () => {
  // Every cleanup runs even when one throws (a failed check must not leave runners and their
  // containers behind); the first error is reported once all ran.
  const errors: unknown[] = [];
  for (const cleanup of fileCleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw errors[0];
});

/** Runs `cleanup` when the current test ends, or, called from a hook, after the file's tests. */
export function teardown(cleanup: () => unknown): void {
  try {
    onTestFinished(async () => {
      await cleanup();
    });
  } catch {
    fileCleanups.push(cleanup);
  }
}

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'codeexec-test-'));
  // maxRetries: a store's last coalesced write may still be landing when the test ends.
  teardown(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));
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
  teardown(() => gateway.close());
  return { gateway, token, url: gateway.url };
}

export async function startRunner(options: Partial<RunnerOptions> & { gatewayUrl: string; token: string }) {
  const runner = await createRunner({
    name: uniqueName('test-runner'),
    dataDir: await tempDir(),
    log: silentLogger,
    minWarm: 1,
    maxWarm: 2,
    minBackoffMs: 20,
    maxBackoffMs: 200,
    ...options,
  });
  teardown(() => runner.close());
  return runner.start();
}

/**
 * Resolves once job `id` on this gateway has started running (or got further), or has ended:
 * on the gateway's own events, not by polling.
 */
export function untilJob(gateway: Gateway, id: string, state: 'running' | 'ended'): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stop();
      resolve();
    };
    const stop = gateway.events.on(state === 'running' ? 'job.started' : 'job.finished', ({ job }) => {
      if (job.id === id) done();
    });
    // It may be there already: the store sees every change the moment it is made.
    void gateway.store.get(id).then((job) => {
      if (job === undefined) return;
      if (state === 'running' ? job.status !== 'queued' : !['queued', 'running'].includes(job.status)) done();
    });
  });
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

export interface Delivery {
  // biome-ignore lint/suspicious/noExplicitAny: the job record as JSON, checked by each test
  body: any;
  headers: Record<string, string | string[] | undefined>;
  raw: string;
  /** The status this sink answered with. */
  status: number;
}

/**
 * A loopback HTTP server that receives callbacks: answers each POST with the next status of
 * `answers` (then 200), records it, and lets a test await the deliveries it expects.
 */
export class CallbackSink {
  readonly received: Delivery[] = [];
  readonly #answers: number[];
  readonly #server: Server;
  readonly #events = new EventEmitter();

  private constructor(answers: number[]) {
    this.#answers = [...answers];
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const status = this.#answers.shift() ?? 200;
        res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
        const delivery = { body: JSON.parse(raw), headers: req.headers, raw, status };
        this.received.push(delivery);
        this.#events.emit('delivery', delivery);
      });
    });
  }

  static async start(answers: number[] = []): Promise<CallbackSink> {
    const sink = new CallbackSink(answers);
    await new Promise<void>((resolve) => sink.#server.listen(0, '127.0.0.1', resolve));
    teardown(() => sink.close());
    return sink;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hook`;
  }

  /** Resolves with the deliveries so far once `match` holds for them. */
  until(match: (received: readonly Delivery[]) => boolean): Promise<readonly Delivery[]> {
    if (match(this.received)) return Promise.resolve(this.received);
    return new Promise((resolve) => {
      const check = () => {
        if (!match(this.received)) return;
        this.#events.off('delivery', check);
        resolve(this.received);
      };
      this.#events.on('delivery', check);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
