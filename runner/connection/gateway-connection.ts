// The runner's line to the gateway: dials out with `ws`, says hello, keeps heartbeats and pings
// going, and reconnects with capped, jittered backoff. Knows nothing of jobs; it delivers frames.
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

export type ConnectionState = 'connecting' | 'handshaking' | 'ready' | 'backoff' | 'closed';

export interface GatewayConnectionOptions {
  /** The gateway's base URL, http(s)://host:port; the WebSocket URL is derived from it. */
  gatewayUrl: string;
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
  disconnected: { code: number; reason: string };
  /** The next try is in `in_ms`. */
  retrying: { in_ms: number };
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
  readonly #url: string;
  #socket: WebSocket | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #retry: NodeJS.Timeout | null = null;
  /** Stops the pings of the current socket. */
  #stopPings: (() => void) | null = null;
  #failures = 0;

  constructor(options: GatewayConnectionOptions) {
    super();
    this.#options = options;
    this.#url = runnerSocketUrl(options.gatewayUrl);
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
      this.emit('disconnected', { code, reason });
      if (FATAL_CLOSE_CODES.has(code)) {
        this.state = 'closed';
        this.emit('fatal', new Error(`the gateway refused this runner (${code}): ${reason}`));
        return;
      }
      this.#scheduleReconnect(code, reason);
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

  #scheduleReconnect(code: number, reason: string): void {
    this.state = 'backoff';
    const min = this.#options.minBackoffMs ?? 250;
    const max = this.#options.maxBackoffMs ?? 15_000;
    // Full jitter: many runners cut off together do not come back together.
    const ceiling = Math.min(max, min * 2 ** this.#failures);
    const delay = Math.round(min / 2 + Math.random() * ceiling);
    this.#failures++;
    this.#options.log.info({ code, reason, delay_ms: delay }, 'gateway connection lost; reconnecting');
    this.#retry = setTimeout(() => this.#connect(), delay);
    this.emit('retrying', { in_ms: delay });
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
