// The gateway: the composition root. It builds the store, the job book, the bus and JobEvents,
// the runner registry, the dispatcher and the session broker, and puts the REST routes and the
// four sockets (runners, clients, Piston clients, the operator's dashboard) on one server
// transport. A library entry point: `Gateway.start(options)` in tests and in the CLI alike.
import { join } from 'node:path';
import {
  ADMIN_EVENTS_PATH,
  CodeexecError,
  createLogger,
  type Logger,
  MAX_RUNNER_FRAME_BYTES,
} from '../shared/index.js';
import { DEFAULT_PING_MS } from '../shared/keepalive.js';
import { AdminFeed } from './admin/admin-feed.js';
import type { Bus } from './bus/bus.js';
import { openBus } from './bus/open-bus.js';
import { CallbackAllowlist } from './callbacks/address-policy.js';
import { CallbackGuard, type Resolver } from './callbacks/callback-guard.js';
import { CallbackSender } from './callbacks/callback-sender.js';
import type { JobEvents } from './events/job-events.js';
import { logEvents } from './events/log-events.js';
import { FleetKeeper } from './fleet/fleet-keeper.js';
import { newGatewayId } from './fleet/gateway-id.js';
import { AdminAuth } from './http/admin-auth.js';
import { ClientAuth } from './http/client-auth.js';
import { buildOpenApi } from './http/openapi.js';
import { type RateLimitOptions, RateLimits } from './http/rate-limits.js';
import { errorResponse, json } from './http/router.js';
import { createRoutes } from './http/routes.js';
import { runnerRoutes } from './http/runner-routes.js';
import { defaultWebRoot, webPageRoutes } from './http/web-pages.js';
import { createJobCore, type JobCore } from './jobs/job-core.js';
import { Retention } from './jobs/retention.js';
import { GatewayMetrics } from './metrics/gateway-metrics.js';
import type { OutputLogLimits } from './output/output-log.js';
import { pistonRoutes } from './piston/piston-routes.js';
import { PistonSockets } from './piston/piston-socket.js';
import { openReliabilityBook } from './runners/open-reliability-book.js';
import { RunnerHub } from './runners/runner-hub.js';
import { runnerViews } from './runners/runner-views.js';
import { realClock } from './scheduling/clock.js';
import { DEFAULT_DONOR_MAX, type DonorMax } from './scheduling/donor-limits.js';
import type { JobStore } from './store/job-store-api.js';
import { openJobStore } from './store/open-job-store.js';
import type { ServerTransport } from './transport/transport.js';
import { UwsTransport } from './transport/uws-transport.js';
import { WsTransport } from './transport/ws-transport.js';
import { AdminSockets } from './ws/admin-socket.js';
import { ClientSockets } from './ws/client-socket.js';

export const GATEWAY_VERSION = '0.1.0';

export interface GatewayOptions {
  host?: string;
  /** 0 lets the OS choose. */
  port?: number;
  dataDir: string;
  /** Tokens the operator's (`trusted`) runners enroll with. */
  runnerTokens: readonly string[];
  /** Tokens donors enroll with (tier `donor`); each token is one donor identity. */
  donorTokens?: readonly string[];
  /** What a job may ask of a donor; asking more keeps it on trusted runners. */
  donorMax?: Partial<DonorMax>;
  /** Keys for the operator's routes (GET /runners, quarantine). None: those answer loopback only. */
  adminKeys?: readonly string[];
  /**
   * Where jobs are stored (CODEEXEC_STORE): absent, files in dataDir (lowdb); a postgres:// URL,
   * a PostgreSQL database (tables made by migrations at start).
   */
  store?: string;
  /**
   * What gateway processes tell each other (CODEEXEC_BUS): absent, nothing (one process); a
   * nats:// URL (comma-separated for a cluster), a NATS server.
   */
  bus?: string;
  /**
   * This gateway's id among the gateways sharing a PostgreSQL store (CODEEXEC_GATEWAY_ID): the
   * owner of the jobs submitted to it. Default: a new random one per process. A fixed id lets a
   * restarted gateway take its own jobs back at once instead of after its old lease runs out.
   */
  gatewayId?: string;
  /**
   * How long a gateway's lease in the fleet lasts without a beat (CODEEXEC_GATEWAY_TTL_MS; beats
   * come thrice as often): how soon the others claim the jobs of one that died. Default 10 s.
   */
  fleetTtlMs?: number;
  /** The built web pages (playground, dashboard): default dist-web/ at the package root. */
  webRoot?: string;
  log?: Logger;
  queueTimeoutMs?: number;
  offerTimeoutMs?: number;
  heartbeatMs?: number;
  leaseMs?: number;
  /**
   * Every socket is pinged at this interval and dropped when it answered nothing since the
   * previous ping; runners are told to ping the gateway as often (CODEEXEC_PING_MS).
   */
  pingMs?: number;
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
  /**
   * Submissions per minute per client, in bursts of `burst`, and ten times that in requests per
   * address (CODEEXEC_RATE_LIMIT, CODEEXEC_RATE_BURST); past it: 429 rate_limited. Absent or
   * `perMinute: 0`: no rate limits (the CLI's default is 600 a minute).
   */
  rateLimit?: RateLimitOptions;
  /** Retention of finished jobs: at most this many, none older than retainMs. */
  retainJobs?: number;
  retainMs?: number;
  retentionSweepMs?: number;
  /** Bytes stored per stdout/stderr/output of a result; past it the text is cut (output_capped). */
  storeOutputBytes?: number;
  /** Offer a job only once it is on disk (see DispatcherOptions.durableBeforeOffer). */
  durableBeforeOffer?: boolean;
  /**
   * Output kept for clients that resume (CODEEXEC_OUTPUT_RETAIN_BYTES, per job and in all):
   * characters of the newest output; default DEFAULT_OUTPUT_LOG_LIMITS (16 MiB, 256 MiB).
   */
  outputLog?: OutputLogLimits;
  /**
   * When the gateway stops, clients and runners are told to come back after this long (spread
   * up to twice it), CODEEXEC_GOAWAY_RECONNECT_MS.
   */
  goawayReconnectMs?: number;
  callbacks?: {
    attempts?: number;
    firstDelayMs?: number;
    maxDelayMs?: number;
    timeoutMs?: number;
    secret?: string | null;
    /**
     * CODEEXEC_CALLBACK_ALLOW: CIDRs, IP addresses and host names a callback may reach although
     * they are internal (loopback, private, link-local…), which are refused otherwise.
     */
    allow?: readonly string[];
    /** How callback hosts are resolved (tests inject names); default: the system's resolver. */
    resolve?: Resolver;
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
  fleetTtlMs: 10_000,
  pingMs: DEFAULT_PING_MS,
  goawayReconnectMs: 2_000,
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

/** What the gateway holds on to so it can close it. */
interface GatewayParts {
  retention: Retention;
  transport: ServerTransport;
  hub: RunnerHub;
  core: JobCore;
  stopLogging: () => void;
  metrics: GatewayMetrics;
  adminSockets: AdminSockets;
  clientSockets: ClientSockets;
  goawayReconnectMs: number;
  keeper: FleetKeeper;
}

export class Gateway {
  readonly port: number;
  readonly host: string;
  readonly store: JobStore;
  /** The typed stream of what happens to jobs and runners (metrics, dashboards, tests). */
  readonly events: JobEvents;
  /** Callback deliveries (tests await `callbacks.idle()`). */
  readonly callbacks: CallbackSender;
  readonly #parts: GatewayParts;
  #closed = false;

  private constructor(
    host: string,
    port: number,
    store: JobStore,
    events: JobEvents,
    callbacks: CallbackSender,
    parts: GatewayParts,
  ) {
    this.host = host;
    this.port = port;
    this.store = store;
    this.events = events;
    this.callbacks = callbacks;
    this.#parts = parts;
  }
  static async start(options: GatewayOptions): Promise<Gateway> {
    if (options.runnerTokens.length === 0 && (options.donorTokens ?? []).length === 0) {
      throw new Error(
        'the gateway needs at least one runner token (CODEEXEC_RUNNER_TOKENS or CODEEXEC_DONOR_TOKENS)',
      );
    }
    // Before anything is opened: a bad entry stops the start, naming CODEEXEC_CALLBACK_ALLOW.
    const callbackAllow = CallbackAllowlist.parse(options.callbacks?.allow ?? []);
    const log = options.log ?? createLogger({ level: 'info' });
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
      log.warn(
        { host },
        'listening on a public address without API keys: anyone who reaches it can run code',
      );
    }
    const gatewayId = options.gatewayId ?? newGatewayId();
    const { store, fleet } = await openJobStore(options.store, options.dataDir, log, gatewayId);
    let bus: Bus;
    try {
      bus = await openBus(options.bus, log);
    } catch (err) {
      await store.close();
      throw err;
    }
    const reliability = await openReliabilityBook(options.store, join(options.dataDir, 'runners.json'), log);
    const heartbeatMs = options.heartbeatMs ?? 5_000;
    const leaseMs = options.leaseMs ?? 3 * heartbeatMs;
    const pingMs = options.pingMs ?? defaults.pingMs;
    const core = createJobCore({
      store,
      bus,
      clock: realClock,
      log,
      queueTimeoutMs: options.queueTimeoutMs ?? 30_000,
      offerTimeoutMs: options.offerTimeoutMs ?? 5_000,
      leaseMs,
      maxAttempts: options.maxAttempts ?? 3,
      maxQueue: options.maxQueue ?? defaults.maxQueue,
      maxPerClient: options.maxJobsPerClient ?? defaults.maxJobsPerClient,
      storeOutputBytes: options.storeOutputBytes ?? defaults.storeOutputBytes,
      durableBeforeOffer: options.durableBeforeOffer ?? defaults.durableBeforeOffer,
      sessionOpenTimeoutMs: SESSION_OPEN_TIMEOUT_MS,
      onWriteError: (err, job) => log.error({ job_id: job, err }, 'writing the job store failed'),
      reliability,
      donorMax: { ...DEFAULT_DONOR_MAX, ...options.donorMax },
      ...(options.outputLog ? { outputLog: options.outputLog } : {}),
    });
    const { events, book, registry, dispatcher, intake, sessions } = core;
    const stopLogging = logEvents(events, log);
    const hub = new RunnerHub({
      dispatcher,
      registry,
      sessions,
      log,
      tokens: options.runnerTokens,
      donorTokens: options.donorTokens ?? [],
      heartbeatMs,
      leaseMs,
      pingMs,
    });
    // Refusals are counted by the metrics, made below (the callback runs only once serving).
    const limits = new RateLimits(options.rateLimit ?? { perMinute: 0 }, realClock, undefined, (scope) =>
      metrics.rateLimited(scope),
    );
    const admit = (client: string | null) => limits.admit(client);
    const clientSockets = new ClientSockets({
      dispatcher,
      book,
      output: core.output,
      ownJobsOnly: auth.enabled,
      intake,
      sessions,
      log,
      authorize: (upgrade, address) => auth.identify(upgrade.headers, address),
      admit,
    });
    const metrics = new GatewayMetrics({
      events,
      registry,
      queuedByLanguage: () => dispatcher.queuedByLanguage(),
      clientSockets: () => clientSockets.size,
      fleet,
      log,
    });
    const admin = new AdminAuth(options.adminKeys ?? []);
    const adminSockets = new AdminSockets({
      admin,
      feed: new AdminFeed({
        events,
        runners: () => runnerViews(registry, reliability),
        queuedByLanguage: () => dispatcher.queuedByLanguage(),
        store,
        clock: realClock,
        log,
        heartbeatMs,
      }),
    });
    const callbackGuard = new CallbackGuard({
      allow: callbackAllow,
      ...(options.callbacks?.resolve ? { resolve: options.callbacks.resolve } : {}),
    });
    const callbacks = new CallbackSender({
      store,
      log,
      guard: callbackGuard,
      attempts: options.callbacks?.attempts ?? defaults.callbackAttempts,
      firstDelayMs: options.callbacks?.firstDelayMs ?? defaults.callbackFirstDelayMs,
      maxDelayMs: options.callbacks?.maxDelayMs ?? defaults.callbackMaxDelayMs,
      timeoutMs: options.callbacks?.timeoutMs ?? defaults.callbackTimeoutMs,
      secret: options.callbacks?.secret ?? null,
      userAgent: `codeexec/${GATEWAY_VERSION}`,
      onAttempt: (result) => metrics.callback(result),
    });
    events.on('job.finished', ({ job }) => callbacks.deliver(job));
    const keeper = new FleetKeeper({
      fleet,
      ttlMs: options.fleetTtlMs ?? defaults.fleetTtlMs,
      info: () => ({ url: urlOf(host, port), runners: runnerViews(registry, reliability) }),
      runners: () => [...registry.all()].map((runner) => runner.name),
      takeOver: (jobs) => dispatcher.takeOver(jobs),
      refuseHeld: (runner, id) => dispatcher.heldClaimRefused(runner, id),
      deliverCallback: (job) => callbacks.deliver(job),
      movable: () => dispatcher.movable(),
      here: () => registry.views(),
      handOff: (ids, move) => dispatcher.handOff(ids, move),
      owned: () => book.ids(),
      letGo: (ids) => dispatcher.letGo(ids),
      nudge: (to) => bus.nudge(to),
      left: () => bus.wake(),
      log: log.child({ gateway_id: gatewayId }),
    });
    dispatcher.setClaimHeld((runner, id) => keeper.claimHeld(runner, id));
    intake.setRunnersElsewhere(() => keeper.elsewhere());
    core.admission.setElsewhere(() => keeper.usageElsewhere());
    limits.shareWith(() => keeper.gateways());
    // Work queued here may be for the others' runners; room there may take some of it.
    dispatcher.setOnQueued(() => keeper.handOffSoon());
    bus.onWake(() => keeper.roomElsewhere());
    bus.onNudge(gatewayId, () => void keeper.takeHanded());
    const retention = new Retention({
      store,
      log,
      maxJobs: options.retainJobs ?? defaults.retainJobs,
      maxAgeMs: options.retainMs ?? defaults.retainMs,
      intervalMs: options.retentionSweepMs ?? defaults.retentionSweepMs,
    });
    const openapi = buildOpenApi(GATEWAY_VERSION);
    const authorize = auth.identify.bind(auth);
    const Transport = (options.transport ?? 'uws') === 'ws' ? WsTransport : UwsTransport;
    const maxBodyBytes = options.maxBodyBytes ?? defaults.maxBodyBytes;
    const transport = new Transport({
      http: createRoutes({
        dispatcher,
        intake,
        book,
        output: core.output,
        heartbeatMs: pingMs,
        registry,
        auth,
        callbackGuard,
        log,
        limits,
        extra: [
          { method: 'GET', path: '/openapi.json', open: true, handle: async () => json(200, openapi) },
          ...pistonRoutes({ dispatcher, intake, registry, log }),
          ...runnerRoutes({ registry, reliability, admin, fleet, url: (): string => urlOf(host, port), log }),
          ...webPageRoutes(options.webRoot ?? defaultWebRoot()),
          {
            method: 'GET',
            path: '/metrics',
            open: true,
            handle: async ({ req }) => {
              admin.check(req);
              return {
                status: 200,
                headers: { 'content-type': metrics.contentType },
                body: await metrics.text(),
              };
            },
          },
        ],
      }),
      sockets: {
        '/runners/connect': hub,
        '/execute/ws': clientSockets,
        [ADMIN_EVENTS_PATH]: adminSockets,
        '/api/v2/connect': new PistonSockets({
          dispatcher,
          intake,
          registry,
          log,
          // Piston clients cannot set headers: `?key=` too (docs/piston.md says what it risks).
          authorize: (upgrade, address) => authorize(upgrade.headers, address, upgrade.query.get('key')),
          admit,
        }),
      },
      maxBodyBytes,
      maxFrameBytes: MAX_RUNNER_FRAME_BYTES,
      pingMs,
      bodyTooLarge: () =>
        errorResponse(
          new CodeexecError(
            'body_too_large',
            `The body is larger than ${maxBodyBytes} bytes (CODEEXEC_MAX_BODY_BYTES)`,
          ),
        ),
    });
    const port = await transport.listen(host, options.port ?? 8080);
    // In the fleet first, so that nobody claims this gateway's own jobs while it takes them back.
    await keeper.join();
    await dispatcher.recover();
    for (const job of await store.pendingCallbacks()) callbacks.deliver(job);
    await keeper.start();
    retention.start();
    log.info({ url: urlOf(host, port), data: options.dataDir, api_keys: auth.enabled }, 'gateway listening');
    return new Gateway(host, port, store, events, callbacks, {
      retention,
      transport,
      hub,
      core,
      stopLogging,
      metrics,
      adminSockets,
      clientSockets,
      goawayReconnectMs: options.goawayReconnectMs ?? defaults.goawayReconnectMs,
      keeper,
    });
  }

  get url(): string {
    return urlOf(this.host, this.port);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const parts = this.#parts;
    // Clients and runners hear goaway (when to come back) before their sockets close with 1001.
    parts.clientSockets.goaway(parts.goawayReconnectMs);
    parts.hub.shutdown(parts.goawayReconnectMs);
    await parts.transport.close();
    parts.adminSockets.shutdown();
    parts.retention.stop();
    parts.core.close();
    // Nothing changes a job here any more: once what was written is stored, this gateway leaves
    // the fleet, and the others claim its jobs at once (its runners have moved to them by now).
    await this.store.flush().catch(() => {});
    await parts.keeper.stop();
    // Pending callbacks stay pending in the store: the next start (or another gateway) resumes them.
    await this.callbacks.close();
    parts.stopLogging();
    parts.metrics.close();
    await parts.core.bus.close();
    await parts.core.reliability.close();
    await this.store.close();
  }
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
