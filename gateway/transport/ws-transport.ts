// The fallback server transport, on node:http and `ws` (pure JavaScript): for platforms where
// the uWebSockets.js binary does not load, and as the comparison in benchmarks.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { DEFAULT_PING_MS } from '../../shared/keepalive.js';
import { chooseProtocol } from '../../shared/ws-auth.js';
import { closeReason } from './close-reason.js';
import { goneStream, startStream, streamHeaders } from './http-stream.js';
import { NodeHttpStream } from './node-http-stream.js';
import { type LiveSocket, SocketLiveness } from './socket-liveness.js';
import type { HttpResponse, ServerTransport, SocketLike, TransportOptions } from './transport.js';

class WsSocket implements SocketLike, LiveSocket {
  readonly remoteAddress: string;
  heard = true;
  readonly #ws: WebSocket;

  constructor(ws: WebSocket, remoteAddress: string) {
    this.#ws = ws;
    this.remoteAddress = remoteAddress;
  }

  send(text: string): boolean {
    if (this.#ws.readyState !== this.#ws.OPEN) return false;
    this.#ws.send(text);
    return this.#ws.bufferedAmount === 0;
  }

  close(code: number, reason: string): void {
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.close(code, closeReason(reason));
  }

  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  ping(): void {
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.ping();
  }

  terminate(): void {
    this.#ws.terminate();
  }
}

/** node:http's headers (lower-case names, repeated ones as arrays) as the core's flat record. */
function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

export class WsTransport implements ServerTransport {
  readonly #options: TransportOptions;
  // A request must arrive whole within 10 s, as uWS's HTTP idle timeout has it: a body trickled
  // in a byte at a time (slowloris) is cut (408), not held for Node's default five minutes.
  readonly #server = createServer(
    { requestTimeout: 10_000, headersTimeout: 10_000, connectionsCheckingInterval: 1_000 },
    (req, res) => this.#onRequest(req, res),
  );
  /** One server per endpoint, since each has its own frame limit. */
  readonly #wss = new Map<string, WebSocketServer>();
  /** Streamed responses still open, ended on close. */
  readonly #streams = new Set<NodeHttpStream>();
  readonly #liveness: SocketLiveness;

  constructor(options: TransportOptions) {
    this.#options = options;
    this.#liveness = new SocketLiveness(options.pingMs ?? DEFAULT_PING_MS);
    for (const [path, handler] of Object.entries(options.sockets)) {
      this.#wss.set(
        path,
        new WebSocketServer({
          noServer: true,
          maxPayload: handler.maxFrameBytes ?? options.maxFrameBytes,
          // Never echo a bearer protocol (shared/ws-auth.ts): answer `codeexec` when offered.
          handleProtocols: (offered) => chooseProtocol([...offered].join(',')) || false,
        }),
      );
    }
    this.#server.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket, head));
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        const address = this.#server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  async close(): Promise<void> {
    this.#liveness.stop();
    for (const wss of this.#wss.values()) {
      for (const ws of wss.clients) ws.close(1001, 'server shutting down');
    }
    // Each body ends whole before its connection is dropped below (the end is written at once).
    for (const stream of [...this.#streams]) stream.shutdown();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const headers = headersOf(req);
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const respond = (response: HttpResponse): void => {
      if (res.headersSent) return;
      if (!response.stream) {
        res.writeHead(response.status, { 'content-type': 'application/json', ...response.headers });
        res.end(response.body);
        return;
      }
      if (abort.signal.aborted || res.destroyed) {
        startStream(response.stream, goneStream());
        return;
      }
      // No content-length: node frames the body (chunked) and sends the head with its first write.
      res.writeHead(response.status, {
        'content-type': 'application/json',
        ...streamHeaders(response.headers),
      });
      const out = new NodeHttpStream(res, () => this.#streams.delete(out));
      this.#streams.add(out);
      startStream(response.stream, out);
    };
    const method = (req.method ?? 'GET').toUpperCase();
    const declared = Number(headers['content-length'] ?? 0);
    if (declared > this.#options.maxBodyBytes) {
      respond(this.#options.bodyTooLarge());
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > this.#options.maxBodyBytes) {
        if (!tooLarge) respond(this.#options.bodyTooLarge());
        tooLarge = true;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) return;
      const request = {
        method,
        path: url.pathname,
        query: url.searchParams,
        headers,
        body: Buffer.concat(chunks),
        remoteAddress: req.socket.remoteAddress ?? '',
      };
      this.#options.http(request, abort.signal).then(respond, (err: unknown) => {
        respond({ status: 500, body: JSON.stringify({ error: { code: 'internal', message: String(err) } }) });
      });
    });
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const handler = this.#options.sockets[url.pathname];
    const wss = this.#wss.get(url.pathname);
    if (!handler || !wss) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const headers = headersOf(req);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const wrapped = new WsSocket(ws, req.socket.remoteAddress ?? '');
      this.#liveness.add(wrapped);
      // A binary frame is read as UTF-8 text, as uWS reads it: the core answers it like any other.
      ws.on('message', (data) => {
        wrapped.heard = true;
        handler.message(wrapped, data.toString());
      });
      ws.on('pong', () => {
        wrapped.heard = true;
      });
      ws.on('close', (code, reason) => {
        this.#liveness.delete(wrapped);
        handler.close(wrapped, code, reason.toString());
      });
      ws.on('error', () => ws.terminate());
      handler.open(wrapped, { headers, query: url.searchParams });
    });
  }
}
