// The gateway: store, dispatcher, runner hub and REST routes on one server transport.
// A library entry point: `Gateway.start(options)` in tests and in the CLI alike.
import { CodeexecError, consoleLogger, type Logger, MAX_RUNNER_FRAME_BYTES } from '../shared/index.js';
import { Dispatcher } from './dispatcher.js';
import { JobStore } from './job-store.js';
import { buildOpenApi } from './openapi.js';
import { errorResponse, json } from './router.js';
import { createRoutes } from './routes.js';
import { RunnerHub } from './runner-hub.js';
import type { ServerTransport } from './transport/transport.js';
import { UwsTransport } from './transport/uws-transport.js';
import { WsTransport } from './transport/ws-transport.js';

export const GATEWAY_VERSION = '0.1.0';

export interface GatewayOptions {
  host?: string;
  /** 0 lets the OS choose. */
  port?: number;
  dataDir: string;
  /** Tokens runners may enroll with. */
  runnerTokens: readonly string[];
  log?: Logger;
  queueTimeoutMs?: number;
  offerTimeoutMs?: number;
  heartbeatMs?: number;
  leaseMs?: number;
  maxAttempts?: number;
  maxBodyBytes?: number;
  /** Server transport: uWebSockets.js (default) or ws. */
  transport?: 'uws' | 'ws';
}

export class Gateway {
  readonly port: number;
  readonly host: string;
  readonly store: JobStore;
  readonly #transport: ServerTransport;
  readonly #hub: RunnerHub;
  readonly #dispatcher: Dispatcher;
  #closed = false;

  private constructor(
    host: string,
    port: number,
    store: JobStore,
    transport: ServerTransport,
    hub: RunnerHub,
    dispatcher: Dispatcher,
  ) {
    this.host = host;
    this.port = port;
    this.store = store;
    this.#transport = transport;
    this.#hub = hub;
    this.#dispatcher = dispatcher;
  }

  static async start(options: GatewayOptions): Promise<Gateway> {
    if (options.runnerTokens.length === 0) {
      throw new Error('the gateway needs at least one runner token (CODEEXEC_RUNNER_TOKENS)');
    }
    const log = options.log ?? consoleLogger;
    const host = options.host ?? '127.0.0.1';
    const store = new JobStore(options.dataDir, (err) =>
      log('error', 'writing the job store failed', { error: err.message }),
    );
    await store.open();
    const heartbeatMs = options.heartbeatMs ?? 5_000;
    const leaseMs = options.leaseMs ?? 3 * heartbeatMs;
    const dispatcher = new Dispatcher({
      store,
      log,
      queueTimeoutMs: options.queueTimeoutMs ?? 30_000,
      offerTimeoutMs: options.offerTimeoutMs ?? 5_000,
      maxAttempts: options.maxAttempts ?? 3,
      leaseMs,
    });
    const hub = new RunnerHub({
      dispatcher,
      log,
      tokens: options.runnerTokens,
      heartbeatMs,
      leaseMs,
    });
    const openapi = buildOpenApi(GATEWAY_VERSION);
    const Transport = (options.transport ?? 'uws') === 'ws' ? WsTransport : UwsTransport;
    const transport = new Transport({
      http: createRoutes({
        dispatcher,
        store,
        hub,
        log,
        extra: [{ method: 'GET', path: '/openapi.json', handle: async () => json(200, openapi) }],
      }),
      sockets: { '/runners/connect': hub },
      maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
      maxFrameBytes: MAX_RUNNER_FRAME_BYTES,
      bodyTooLarge: () =>
        errorResponse(
          new CodeexecError(
            'body_too_large',
            `The body is larger than ${options.maxBodyBytes ?? 1024 * 1024} bytes`,
          ),
        ),
    });
    const port = await transport.listen(host, options.port ?? 8080);
    dispatcher.recover();
    log('info', 'gateway listening', { url: `http://${host}:${port}`, data: store.file });
    return new Gateway(host, port, store, transport, hub, dispatcher);
  }

  get url(): string {
    return `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#hub.shutdown();
    await this.#transport.close();
    this.#dispatcher.close();
    await this.store.flush();
  }
}
