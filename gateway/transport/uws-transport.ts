// The default server transport, on uWebSockets.js. The only file that imports it.
// uWS hands out ArrayBuffers that it frees when the callback returns, and an HttpRequest that
// is valid only in the synchronous part of a handler: everything is copied before any await.
import uWS from 'uWebSockets.js';
import { DEFAULT_PING_MS } from '../../shared/keepalive.js';
import { chooseProtocol } from '../../shared/ws-auth.js';
import { closeReason } from './close-reason.js';
import { goneStream, startStream, streamHeaders } from './http-stream.js';
import { type LiveSocket, SocketLiveness } from './socket-liveness.js';
import type {
  HttpRequest,
  HttpResponse,
  ServerTransport,
  SocketHandler,
  SocketLike,
  TransportOptions,
  UpgradeInfo,
} from './transport.js';
import { UwsHttpStream } from './uws-http-stream.js';

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/**
 * Sockets with frames waiting to be written, flushed once per event-loop turn (setImmediate runs
 * right after the poll phase in which uWS handed us every frame it read). uWS corks a socket only
 * inside that socket's own callbacks: a chunk relayed from the runner's socket to a client's would
 * otherwise cost one send(2) per frame; written together inside `cork` they cost one per socket.
 */
const outbox: UwsSocket[] = [];
/** A socket's queue is written before the turn ends once it holds this much. */
const FLUSH_AT_BYTES = 64 * 1024;
let flushScheduled = false;

function flushOutbox(): void {
  flushScheduled = false;
  // A socket is listed when a frame goes into its empty queue. One that gets a frame while this
  // runs (a close handler run by a failed write may send) is listed again, and written below.
  for (let i = 0; i < outbox.length; i++) outbox[i]!.flush();
  outbox.length = 0;
}

/** Text frames as strings, as Buffer#toString would give them (a leading BOM kept), but faster. */
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** A uWS socket behind the core's SocketLike. uWS forbids touching a closed socket. */
class UwsSocket implements SocketLike, LiveSocket {
  closed = false;
  heard = true;
  readonly remoteAddress: string;
  readonly #ws: uWS.WebSocket<SocketData>;
  /**
   * Frames sent this turn and not yet handed to uWS, in order (null when none: an idle socket
   * keeps no array), and their size in UTF-8 bytes.
   */
  #pending: string[] | null = null;
  #pendingBytes = 0;

  constructor(ws: uWS.WebSocket<SocketData>) {
    this.#ws = ws;
    this.remoteAddress = Buffer.from(ws.getRemoteAddressAsText()).toString();
  }

  /**
   * Queues the frame for this turn's flush. False when it waits behind backpressure (frames
   * written earlier that the peer has not read yet), as uWS's own send would say.
   */
  send(text: string): boolean {
    if (this.closed) return false;
    if (this.#pending === null) {
      this.#pending = [];
      outbox.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushOutbox);
      }
    }
    this.#pending.push(text);
    this.#pendingBytes += Buffer.byteLength(text);
    const backpressure = this.#ws.getBufferedAmount();
    // A big burst is written at once: a queue that waits for the turn to end stays small, so what
    // bufferedAmount says (and the core's slow-reader limits act on) is still what the peer left
    // unread, not what this turn happened to bring.
    if (this.#pendingBytes >= FLUSH_AT_BYTES) this.flush();
    return backpressure === 0;
  }

  /** Writes the queued frames in one corked block: one system call for all of them. */
  flush(): void {
    const pending = this.#pending;
    if (pending === null) return;
    this.#pending = null;
    this.#pendingBytes = 0;
    if (this.closed) return;
    const ws = this.#ws;
    // One frame is one write either way: corking it would only cost a callback.
    if (pending.length === 1) ws.send(pending[0]!, false);
    else
      ws.cork(() => {
        for (const text of pending) ws.send(text, false);
      });
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    // What was sent before the close goes first (an error frame explaining it, say).
    this.flush();
    this.closed = true;
    this.#ws.end(code, closeReason(reason));
  }

  ping(): void {
    if (!this.closed) this.#ws.ping();
  }

  /** Drops the connection without a closing handshake; uWS reports it to `close` as 1006. */
  terminate(): void {
    if (this.closed) return;
    this.closed = true;
    this.#ws.close();
  }

  /** Bytes written and not yet read by the peer, and those still queued for this turn's flush. */
  get bufferedAmount(): number {
    return this.closed ? 0 : this.#ws.getBufferedAmount() + this.#pendingBytes;
  }
}

interface SocketData {
  socket: UwsSocket;
  upgrade: UpgradeInfo;
}

export class UwsTransport implements ServerTransport {
  readonly #options: TransportOptions;
  readonly #app: uWS.TemplatedApp;
  #listenSocket: uWS.us_listen_socket | null = null;
  readonly #sockets = new Set<uWS.WebSocket<SocketData>>();
  /** Streamed responses still open, ended on close. */
  readonly #streams = new Set<UwsHttpStream>();
  readonly #liveness: SocketLiveness;

  constructor(options: TransportOptions) {
    this.#options = options;
    this.#liveness = new SocketLiveness(options.pingMs ?? DEFAULT_PING_MS);
    this.#app = uWS.App();
    for (const [path, handler] of Object.entries(options.sockets)) this.#addSocketRoute(path, handler);
    this.#app.any('/*', (res, req) => this.#onHttp(res, req));
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#app.listen(host, port, (token) => {
        if (!token) {
          reject(new Error(`cannot listen on ${host}:${port}`));
          return;
        }
        this.#listenSocket = token;
        resolve(uWS.us_socket_local_port(token as unknown as uWS.us_socket));
      });
    });
  }

  async close(): Promise<void> {
    this.#liveness.stop();
    if (this.#listenSocket) uWS.us_listen_socket_close(this.#listenSocket);
    this.#listenSocket = null;
    for (const ws of [...this.#sockets]) ws.getUserData().socket.close(1001, 'server shutting down');
    // Each body ends whole (the peer reads its end); its connection then idles out like any other.
    for (const stream of [...this.#streams]) stream.shutdown();
  }

  #onHttp(res: uWS.HttpResponse, req: uWS.HttpRequest): void {
    const headers: Record<string, string> = {};
    req.forEach((key, value) => {
      headers[key] = value;
    });
    const request: Omit<HttpRequest, 'body'> = {
      method: req.getMethod().toUpperCase(),
      path: req.getUrl(),
      query: new URLSearchParams(req.getQuery() ?? ''),
      headers,
      remoteAddress: Buffer.from(res.getRemoteAddressAsText()).toString(),
    };
    const abort = new AbortController();
    /** The peer went away: uWS forbids touching `res` from then on. */
    let aborted = false;
    let responded = false;
    let stream: UwsHttpStream | null = null;
    res.onAborted(() => {
      aborted = true;
      stream?.gone();
      abort.abort();
    });

    const respond = (response: HttpResponse): void => {
      if (responded) return;
      responded = true;
      if (aborted) {
        if (response.stream) startStream(response.stream, goneStream());
        return;
      }
      const headers = response.stream ? streamHeaders(response.headers) : (response.headers ?? {});
      res.cork(() => {
        res.writeStatus(`${response.status} ${STATUS_TEXT[response.status] ?? ''}`.trimEnd());
        if (headers['content-type'] === undefined) res.writeHeader('content-type', 'application/json');
        for (const [key, value] of Object.entries(headers)) res.writeHeader(key, value);
        // A stream's head goes out with its first write (uWS's first write adds the chunked framing).
        if (!response.stream) res.end(response.body);
      });
      if (response.stream) {
        const out = new UwsHttpStream(res, () => this.#streams.delete(out));
        stream = out;
        this.#streams.add(out);
        startStream(response.stream, out);
      }
    };
    const handle = (body: Buffer): void => {
      this.#options.http({ ...request, body }, abort.signal).then(respond, (err: unknown) => {
        respond({ status: 500, body: JSON.stringify({ error: { code: 'internal', message: String(err) } }) });
      });
    };

    const declared = Number(headers['content-length'] ?? 0);
    if (declared > this.#options.maxBodyBytes) {
      // Answer before reading: the client learns at once, and nothing is buffered.
      respond(this.#options.bodyTooLarge());
      return;
    }
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'DELETE') {
      handle(Buffer.alloc(0));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      if (aborted || responded) return;
      size += chunk.byteLength;
      if (size > this.#options.maxBodyBytes) {
        respond(this.#options.bodyTooLarge());
        return;
      }
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      if (isLast) handle(Buffer.concat(chunks, size));
    });
  }

  #addSocketRoute(path: string, handler: SocketHandler): void {
    this.#app.ws<SocketData>(path, {
      maxPayloadLength: handler.maxFrameBytes ?? this.#options.maxFrameBytes,
      // Liveness is the sweep's (socket-liveness.ts), as on the ws transport. uWS's own cannot
      // express an interval: it pings after idleTimeout minus a margin (4, 8 or 16 s by size),
      // closes a margin later, counts in 4-second ticks and takes nothing under 8 s.
      idleTimeout: 0,
      sendPingsAutomatically: false,
      // Above the client sockets' own cut-off (CLIENT_MAX_BUFFERED_BYTES), so uWS never drops a
      // frame silently: the core closes a socket that reads too slowly first.
      maxBackpressure: 96 * 1024 * 1024,
      upgrade: (res, req, context) => {
        // The request is valid only now: copy what the handler may need.
        const headers: Record<string, string> = {};
        req.forEach((key, value) => {
          headers[key] = value;
        });
        res.upgrade(
          { upgrade: { headers, query: new URLSearchParams(req.getQuery() ?? '') } } as SocketData,
          req.getHeader('sec-websocket-key'),
          chooseProtocol(req.getHeader('sec-websocket-protocol')),
          req.getHeader('sec-websocket-extensions'),
          context,
        );
      },
      open: (ws) => {
        const socket = new UwsSocket(ws);
        const data = ws.getUserData();
        data.socket = socket;
        this.#sockets.add(ws);
        this.#liveness.add(socket);
        handler.open(socket, data.upgrade);
      },
      message: (ws, message) => {
        const { socket } = ws.getUserData();
        socket.heard = true;
        handler.message(socket, utf8.decode(message));
      },
      pong: (ws) => {
        ws.getUserData().socket.heard = true;
      },
      close: (ws, code, message) => {
        this.#sockets.delete(ws);
        const { socket } = ws.getUserData();
        this.#liveness.delete(socket);
        socket.closed = true;
        socket.flush(); // drops what was queued: the socket is gone
        handler.close(socket, code, Buffer.from(message).toString('utf8'));
      },
    });
  }
}
