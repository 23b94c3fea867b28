// The gateway: store, dispatcher, runner hub and REST routes on one server transport.
// A library entry point: `Gateway.start(options)` in tests and in the CLI alike.
import { CodeexecError, consoleLogger, type Logger, MAX_RUNNER_FRAME_BYTES } from '../shared/index.js';
import { CallbackSender } from './callbacks/callback-sender.js';
import { ClientAuth } from './http/client-auth.js';
import { buildOpenApi } from './http/openapi.js';
import { errorResponse, json } from './http/router.js';
import { createRoutes } from './http/routes.js';
import { Admission } from './jobs/admission.js';
import { Dispatcher } from './jobs/dispatcher.js';
import { JobIntake } from './jobs/job-intake.js';
import { Retention } from './jobs/retention.js';
import { pistonRoutes } from './piston/piston-routes.js';
import { PistonSockets } from './piston/piston-socket.js';
import { RunnerHub } from './runners/runner-hub.js';
import { SessionBroker } from './sessions/session-broker.js';
import { JobStore } from './store/job-store.js';
import type { ServerTransport } from './transport/transport.js';
import { UwsTransport } from './transport/uws-transport.js';
import { WsTransport } from './transport/ws-transport.js';
import { ClientSockets } from './ws/client-socket.js';

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
  /** Client API keys (Bearer). None: the API is open, and listens only on loopback unless... */
  apiKeys?: readonly string[];
  /** ...this says an open API on a public address is on purpose. */
  allowPublicWithoutKeys?: boolean;
  /** Jobs waiting for a runner, all clients together; past it: 503 queue_full. 0: no bound. */
  maxQueue?: number;
  /** Jobs queued or running per client (API key, or address without keys); past it: 429. 0: no cap. */
  maxJobsPerClient?: number;
  /** Retention of finished jobs: at most this many, none older than retainMs. */
  retainJobs?: number;
  retainMs?: number;
  retentionSweepMs?: number;
  /** Bytes stored per stdout/stderr/output of a result; past it the text is cut (output_capped). */
  storeOutputBytes?: number;
  /** Offer a job only once it is on disk (see DispatcherOptions.durableBeforeOffer). */
  durableBeforeOffer?: boolean;
  callbacks?: {
    attempts?: number;
    firstDelayMs?: number;
    maxDelayMs?: number;
    timeoutMs?: number;
    secret?: string | null;
  };
}

/** The defaults of the options above: the README's Configuration table quotes them. */
export const GATEWAY_DEFAULTS = {
  maxBodyBytes: 1024 * 1024,
  maxQueue: 10_000,
  maxJobsPerClient: 1_000,
  retainJobs: 10_000,
  retainMs: 7 * 24 * 3600_000,
  retentionSweepMs: 60_000,
  storeOutputBytes: 1024 * 1024,
  durableBeforeOffer: true,
  callbackAttempts: 6,
  callbackFirstDelayMs: 1_000,
  callbackMaxDelayMs: 60_000,
  callbackTimeoutMs: 10_000,
} as const;

/** How long a runner may take to make a session's sandbox (a cold container under load). */
const SESSION_OPEN_TIMEOUT_MS = 60_000;

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\]|::ffff:127(\.\d{1,3}){3})$/i;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

/**
 * Whether the gateway may listen on `host`: with API keys anywhere; without, an open API only on
 * loopback, unless the operator says a public open one is on purpose (then with a warning).
 */
export function listenPolicy(
  host: string,
  hasKeys: boolean,
  allowOpenPublic: boolean,
): 'listen' | 'warn' | 'refuse' {
  if (hasKeys || isLoopback(host)) return 'listen';
  return allowOpenPublic ? 'warn' : 'refuse';
}

export class Gateway {
  readonly port: number;
  readonly host: string;
  readonly store: JobStore;
  /** Callback deliveries (tests await `callbacks.idle()`). */
  readonly callbacks: CallbackSender;
  readonly #retention: Retention;
  readonly #transport: ServerTransport;
  readonly #hub: RunnerHub;
  readonly #dispatcher: Dispatcher;
  readonly #sessions: SessionBroker;
  #closed = false;

  private constructor(
    host: string,
    port: number,
    store: JobStore,
    transport: ServerTransport,
    hub: RunnerHub,
    dispatcher: Dispatcher,
    sessions: SessionBroker,
    callbacks: CallbackSender,
    retention: Retention,
  ) {
    this.host = host;
    this.port = port;
    this.store = store;
    this.callbacks = callbacks;
    this.#retention = retention;
    this.#transport = transport;
    this.#hub = hub;
    this.#dispatcher = dispatcher;
    this.#sessions = sessions;
  }

  static async start(options: GatewayOptions): Promise<Gateway> {
    if (options.runnerTokens.length === 0) {
      throw new Error('the gateway needs at least one runner token (CODEEXEC_RUNNER_TOKENS)');
    }
    const log = options.log ?? consoleLogger;
    const host = options.host ?? '127.0.0.1';
    const defaults = GATEWAY_DEFAULTS;
    const auth = new ClientAuth(options.apiKeys ?? []);
    const policy = listenPolicy(host, auth.enabled, options.allowPublicWithoutKeys ?? false);
    if (policy === 'refuse') {
      throw new Error(
        `refusing to listen on ${host} without client API keys: anyone who reaches it could run code. ` +
          'Set CODEEXEC_API_KEYS, or CODEEXEC_ALLOW_PUBLIC=1 if an open gateway is on purpose',
      );
    }
    if (policy === 'warn') {
      log('warn', 'listening on a public address without API keys: anyone who reaches it can run code', {
        host,
      });
    }
    const store = new JobStore(options.dataDir, (err) =>
      log('error', 'writing the job store failed', { error: err.message }),
    );
    await store.open();
    const heartbeatMs = options.heartbeatMs ?? 5_000;
    const leaseMs = options.leaseMs ?? 3 * heartbeatMs;
    const callbacks = new CallbackSender({
      store,
      log,
      attempts: options.callbacks?.attempts ?? defaults.callbackAttempts,
      firstDelayMs: options.callbacks?.firstDelayMs ?? defaults.callbackFirstDelayMs,
      maxDelayMs: options.callbacks?.maxDelayMs ?? defaults.callbackMaxDelayMs,
      timeoutMs: options.callbacks?.timeoutMs ?? defaults.callbackTimeoutMs,
      secret: options.callbacks?.secret ?? null,
      userAgent: `codeexec/${GATEWAY_VERSION}`,
    });
    const retention = new Retention({
      store,
      log,
      maxJobs: options.retainJobs ?? defaults.retainJobs,
      maxAgeMs: options.retainMs ?? defaults.retainMs,
      intervalMs: options.retentionSweepMs ?? defaults.retentionSweepMs,
    });
    const dispatcher = new Dispatcher({
      store,
      log,
      queueTimeoutMs: options.queueTimeoutMs ?? 30_000,
      offerTimeoutMs: options.offerTimeoutMs ?? 5_000,
      maxAttempts: options.maxAttempts ?? 3,
      leaseMs,
      admission: new Admission(store, {
        maxQueue: options.maxQueue ?? defaults.maxQueue,
        maxPerClient: options.maxJobsPerClient ?? defaults.maxJobsPerClient,
      }),
      storeOutputBytes: options.storeOutputBytes ?? defaults.storeOutputBytes,
      durableBeforeOffer: options.durableBeforeOffer ?? defaults.durableBeforeOffer,
      onFinish: (job) => callbacks.deliver(job),
    });
    const sessions = new SessionBroker({
      dispatcher,
      log,
      placeTimeoutMs: options.queueTimeoutMs ?? 30_000,
      openTimeoutMs: SESSION_OPEN_TIMEOUT_MS,
    });
    const hub = new RunnerHub({
      dispatcher,
      sessions,
      log,
      tokens: options.runnerTokens,
      heartbeatMs,
      leaseMs,
    });
    const intake = new JobIntake(dispatcher, hub);
    const openapi = buildOpenApi(GATEWAY_VERSION);
    const Transport = (options.transport ?? 'uws') === 'ws' ? WsTransport : UwsTransport;
    const transport = new Transport({
      http: createRoutes({
        dispatcher,
        intake,
        store,
        hub,
        auth,
        log,
        extra: [
          { method: 'GET', path: '/openapi.json', open: true, handle: async () => json(200, openapi) },
          ...pistonRoutes({ dispatcher, intake, hub, log }),
        ],
      }),
      sockets: {
        '/runners/connect': hub,
        '/execute/ws': new ClientSockets({
          dispatcher,
          intake,
          sessions,
          log,
          authorize: (upgrade, address) => auth.identify(upgrade.headers, address),
        }),
        '/api/v2/connect': new PistonSockets({
          dispatcher,
          intake,
          hub,
          log,
          authorize: (upgrade, address) => auth.identify(upgrade.headers, address),
        }),
      },
      maxBodyBytes: options.maxBodyBytes ?? defaults.maxBodyBytes,
      maxFrameBytes: MAX_RUNNER_FRAME_BYTES,
      bodyTooLarge: () =>
        errorResponse(
          new CodeexecError(
            'body_too_large',
            `The body is larger than ${options.maxBodyBytes ?? defaults.maxBodyBytes} bytes (CODEEXEC_MAX_BODY_BYTES)`,
          ),
        ),
    });
    const port = await transport.listen(host, options.port ?? 8080);
    dispatcher.recover();
    for (const job of store.pendingCallbacks()) callbacks.deliver(job);
    retention.start();
    log('info', 'gateway listening', {
      url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
      data: store.file,
      api_keys: auth.enabled,
    });
    return new Gateway(host, port, store, transport, hub, dispatcher, sessions, callbacks, retention);
  }

  get url(): string {
    return `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#hub.shutdown();
    await this.#transport.close();
    this.#retention.stop();
    // Pending callbacks stay pending in the store: the next start resumes them.
    await this.callbacks.close();
    this.#dispatcher.close();
    this.#sessions.shutdown();
    await this.store.flush();
  }
}
