// The seam between the gateway's core and its HTTP/WebSocket server. The core (routes, runner
// hub) sees only these shapes; uws-transport.ts fills them today, a ws-based one can too.

export interface HttpRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: Buffer;
  /** The peer's IP address as text (per-client caps when no API keys are configured). */
  remoteAddress: string;
}

export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  /** Text, or bytes (a page's gzipped file). Ignored when `stream` is set. */
  body: string | Uint8Array;
  /**
   * A body written over time (server-sent events). The transport writes the status and headers
   * (chunked: a content-length or transfer-encoding given here is dropped), then calls this at
   * once, exactly once, with a stream that is already closed when the peer left before. The head
   * reaches the peer with the first write (uWS cannot send it alone): write something at once
   * (an SSE comment) when the peer should see the head before the first event.
   */
  stream?: (out: HttpStream) => void;
}

/** A response body written over time (server-sent events). */
export interface HttpStream {
  /**
   * Writes text to the body. False when the peer is not reading and the transport holds more
   * than a high-water mark (1 MiB, STREAM_HIGH_WATER_BYTES): the text is queued all the same, and
   * the caller may drop or stop. False, and nothing written, once the stream is closed.
   */
  write(text: string): boolean;
  /** Ends the body (idempotent). */
  end(): void;
  /** Bytes written but not yet taken by the peer (on uWS an estimate: uws-http-stream.ts). */
  readonly bufferedAmount: number;
  /** True once the peer went away, the body ended, or the transport is closing. */
  readonly closed: boolean;
  /**
   * Called once when the peer goes away or the transport closes (not after end()). A listener
   * added after that happened is called on a microtask.
   */
  onClose(listener: () => void): void;
}

export type HttpHandler = (req: HttpRequest, signal: AbortSignal) => Promise<HttpResponse>;

/** What the core may do with an open WebSocket. */
export interface SocketLike {
  /** Sends a text frame. False when the frame was queued behind backpressure or dropped. */
  send(text: string): boolean;
  close(code: number, reason: string): void;
  readonly bufferedAmount: number;
  readonly remoteAddress: string;
}

/** What the upgrade request said, for authentication and options. */
export interface UpgradeInfo {
  headers: Record<string, string>;
  query: URLSearchParams;
}

export interface SocketHandler {
  /** Largest message this endpoint accepts, bytes (default: the transport's maxFrameBytes). */
  readonly maxFrameBytes?: number;
  open(socket: SocketLike, upgrade: UpgradeInfo): void;
  message(socket: SocketLike, text: string): void;
  close(socket: SocketLike, code: number, reason: string): void;
}

export interface TransportOptions {
  http: HttpHandler;
  /** WebSocket endpoints by exact path. */
  sockets: Record<string, SocketHandler>;
  /** Largest request body, bytes: past it the request gets 413 before the body is read whole. */
  maxBodyBytes: number;
  /** Largest WebSocket message, bytes: past it the socket is closed (1009). */
  maxFrameBytes: number;
  /** Answer for a body that is too large (the core's error format). */
  bodyTooLarge: () => HttpResponse;
  /**
   * Every socket is pinged at this interval, and dropped when it answered nothing since the
   * previous ping (socket-liveness.ts). Default DEFAULT_PING_MS (25 s), CODEEXEC_PING_MS.
   */
  pingMs?: number;
}

export interface ServerTransport {
  /** Listens; port 0 lets the OS choose. Resolves with the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** Stops listening and closes every socket. */
  close(): Promise<void>;
}
