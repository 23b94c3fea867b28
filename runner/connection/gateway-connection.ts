// The runner's line to the gateway: dials out with `ws`, says hello, keeps heartbeats and pings
// going, and reconnects: to the next gateway of its list, with capped, jittered backoff once all
// failed, or where a `goaway` sends it (the choice is gateway-choice.ts's). Knows nothing of jobs;
// it delivers frames.
import WebSocket from 'ws';
import {
  type GatewayToRunner,
  GatewayToRunnerFrame,
  type Logger,
  MAX_RUNNER_FRAME_BYTES,
  parse,
  parseJson,
  type RunnerToGateway,
} from '../../shared/index.js';
import { DEFAULT_PING_MS, keepAlive } from '../../shared/keepalive.js';
import { TypedEmitter } from '../typed-emitter.js';
import { chooseNext, type Ending } from './gateway-choice.js';

export type ConnectionState = 'connecting' | 'handshaking' | 'ready' | 'backoff' | 'closed';

export interface GatewayConnectionOptions {
  /**
   * The gateways' base URLs, http(s)://host:port (at least one); each WebSocket URL is derived
   * from its base. The first is dialled first; the others when one fails or sends `goaway`.
   */
  gatewayUrls: readonly string[];
  /** Builds the hello frame (called on each connect, so it can report the jobs still held). */
  hello: () => Extract<RunnerToGateway, { type: 'hello' }>;
  log: Logger;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * Certificates to trust for a wss:// gateway besides the system's (PEM): a private CA, a
   * self-signed certificate in tests. NODE_EXTRA_CA_CERTS does the same for a whole process.
   */
  ca?: string | Buffer;
}

type WelcomeFrame = Extract<GatewayToRunner, { type: 'welcome' }>;

export interface ConnectionEvents {
  /** A gateway frame after the welcome, parsed. */
  frame: GatewayToRunner;
  welcome: WelcomeFrame;
  /** Time for a heartbeat (at the interval the welcome chose). */
  heartbeat: undefined;
  /** The socket to `gateway` (a base URL of the list) closed. */
  disconnected: { gateway: string; code: number; reason: string };
  /** The next try is in `in_ms`, to `gateway` (a base URL of the list). */
  retrying: { in_ms: number; gateway: string };
  /** The gateway said it is going away: the socket closes next, and is not counted as a failure. */
  goaway: { reconnect_after_ms: number };
  /** The connection stopped for good: reconnecting cannot help (a refused token). */
  fatal: Error;
}

/** Close codes after which reconnecting cannot help. */
const FATAL_CLOSE_CODES = new Set([4401]);

export function runnerSocketUrl(gatewayUrl: string): string {
  const url = new URL('/runners/connect', gatewayUrl);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new Error(`the gateway URL must be http(s)://host:port, got ${gatewayUrl}`);
  }
  return url.href;
}

export class GatewayConnection extends TypedEmitter<ConnectionEvents> {
  state: ConnectionState = 'connecting';
  readonly #options: GatewayConnectionOptions;
  /** The base URLs and their WebSocket URLs, in the list's order. */
  readonly #bases: readonly string[];
  readonly #urls: readonly string[];
  /** The entry dialled (or to dial next). */
  #index = 0;
  /** What the current socket's `goaway` asked, until it closes. */
  #goaway: number | null = null;
  #socket: WebSocket | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #retry: NodeJS.Timeout | null = null;
  /** Stops the pings of the current socket. */
  #stopPings: (() => void) | null = null;
  #failures = 0;

  constructor(options: GatewayConnectionOptions) {
    super();
    this.#options = options;
    if (options.gatewayUrls.length === 0) throw new Error('the runner needs at least one gateway URL');
    this.#bases = [...options.gatewayUrls];
    this.#urls = this.#bases.map(runnerSocketUrl);
  }

  /** The base URL of the gateway dialled, or to be dialled next. */
  get gatewayUrl(): string {
    return this.#bases[this.#index] as string;
  }

  get #url(): string {
    return this.#urls[this.#index] as string;
  }

  start(): void {
    this.#connect();
  }

  /** Sends a frame if the session is up. False when it is not (the caller decides what to keep). */
  send(frame: RunnerToGateway): boolean {
    if (this.state !== 'ready' || !this.#socket) return false;
    this.#socket.send(JSON.stringify(frame));
    return true;
  }

  get bufferedAmount(): number {
    return this.#socket?.bufferedAmount ?? 0;
  }

  close(): void {
    this.state = 'closed';
    this.#stopTimers();
    this.#socket?.close(1000, 'runner stopping');
    this.#socket = null;
  }

  #connect(): void {
    if (this.state === 'closed') return;
    this.state = 'connecting';
    this.#goaway = null;
    const socket = new WebSocket(this.#url, {
      maxPayload: MAX_RUNNER_FRAME_BYTES,
      handshakeTimeout: 10_000,
      ...(this.#options.ca === undefined ? {} : { ca: this.#options.ca }),
    });
    this.#socket = socket;
    socket.on('open', () => {
      this.state = 'handshaking';
      this.#ping(socket, DEFAULT_PING_MS);
      socket.send(JSON.stringify(this.#options.hello()));
    });
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      this.#onMessage(data.toString());
    });
    socket.on('error', (err) => {
      this.#options.log.warn({ url: this.#url, err }, 'gateway connection error');
    });
    socket.on('close', (code, reasonBuffer) => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.#stopTimers();
      const reason = reasonBuffer.toString();
      if (this.state === 'closed') return;
      this.emit('disconnected', { gateway: this.gatewayUrl, code, reason });
      if (FATAL_CLOSE_CODES.has(code)) {
        this.state = 'closed';
        this.emit('fatal', new Error(`the gateway refused this runner (${code}): ${reason}`));
        return;
      }
      const ending: Ending =
        this.#goaway === null ? { kind: 'failed' } : { kind: 'goaway', reconnectAfterMs: this.#goaway };
      this.#scheduleReconnect(code, reason, ending);
    });
  }

  #onMessage(text: string): void {
    let frame: GatewayToRunner;
    try {
      frame = parse(GatewayToRunnerFrame, parseJson(text, 'invalid_frame'), 'invalid_frame');
    } catch (err) {
      this.#options.log.warn({ err }, 'invalid frame from the gateway');
      this.send({ type: 'error', code: 'invalid_frame', message: (err as Error).message });
      return;
    }
    if (frame.type === 'welcome') {
      this.state = 'ready';
      this.#failures = 0;
      if (this.#socket) this.#ping(this.#socket, frame.ping_ms ?? DEFAULT_PING_MS);
      this.#heartbeat = setInterval(() => this.emit('heartbeat', undefined), frame.heartbeat_ms);
      this.emit('welcome', frame);
      return;
    }
    if (frame.type === 'goaway') {
      // Acted on when the socket closes, which the gateway does next.
      this.#goaway = frame.reconnect_after_ms;
      this.#options.log.info(
        { gateway: this.gatewayUrl, reconnect_after_ms: frame.reconnect_after_ms },
        'the gateway is going away',
      );
      this.emit('goaway', { reconnect_after_ms: frame.reconnect_after_ms });
      return;
    }
    if (frame.type === 'error' && this.state === 'handshaking') {
      this.#options.log.error({ code: frame.code, message: frame.message }, 'the gateway refused the hello');
    }
    this.emit('frame', frame);
  }

  /**
   * Pings the gateway every `intervalMs` (the interval the welcome names): proxies see traffic,
   * and a gateway that answers nothing until the next ping is taken for gone. The socket is
   * dropped and the close handler reconnects with backoff, as after any lost link.
   */
  #ping(socket: WebSocket, intervalMs: number): void {
    this.#stopPings?.();
    this.#stopPings = keepAlive(socket, intervalMs, () => {
      this.#options.log.warn(
        { url: this.#url, interval_ms: intervalMs },
        'the gateway stopped answering pings',
      );
      socket.terminate();
    });
  }

  #scheduleReconnect(code: number, reason: string, ending: Ending): void {
    this.state = 'backoff';
    const from = this.gatewayUrl;
    const choice = chooseNext({
      count: this.#urls.length,
      current: this.#index,
      failures: this.#failures,
      ending,
      backoff: { minMs: this.#options.minBackoffMs ?? 250, maxMs: this.#options.maxBackoffMs ?? 15_000 },
      random: Math.random(),
    });
    this.#index = choice.index;
    this.#failures = choice.failures;
    const delay = choice.delayMs;
    // Operators see where the runner goes, and why.
    this.#options.log.info(
      { code, reason, from, gateway: this.gatewayUrl, delay_ms: delay, why: choice.why },
      ending.kind === 'goaway'
        ? 'the gateway went away; reconnecting'
        : 'gateway connection lost; reconnecting',
    );
    this.#retry = setTimeout(() => this.#connect(), delay);
    this.emit('retrying', { in_ms: delay, gateway: this.gatewayUrl });
  }

  #stopTimers(): void {
    this.#stopPings?.();
    this.#stopPings = null;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (this.#retry) clearTimeout(this.#retry);
    this.#heartbeat = null;
    this.#retry = null;
  }
}
