// Proxy-safe liveness on every gateway socket (clients, Piston, runners, the dashboard), the same
// on both transports: one sweep every `intervalMs` pings each open socket, and drops one that
// sent nothing (no pong, no frame) since the previous sweep. So the gateway's side of a link is
// never silent for longer than the interval (a proxy's idle timeout above it keeps the link), and
// a dead peer is gone within two intervals. docs/deployment.md, "Idle links and proxies".

/** A socket as the sweep sees it; the transport sets `heard` on every frame and pong it reads. */
export interface LiveSocket {
  heard: boolean;
  /** Sends a ping control frame. */
  ping(): void;
  /** Drops the connection at once (no closing handshake: the peer is not answering). */
  terminate(): void;
}

export class SocketLiveness {
  readonly #sockets = new Set<LiveSocket>();
  readonly #timer: NodeJS.Timeout;

  constructor(intervalMs: number) {
    if (!Number.isSafeInteger(intervalMs) || intervalMs < 1) {
      throw new RangeError(`the ping interval must be a whole number of milliseconds ≥ 1, got ${intervalMs}`);
    }
    this.#timer = setInterval(() => this.#sweep(), intervalMs);
    this.#timer.unref();
  }

  add(socket: LiveSocket): void {
    socket.heard = true;
    this.#sockets.add(socket);
  }

  delete(socket: LiveSocket): void {
    this.#sockets.delete(socket);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#sockets.clear();
  }

  #sweep(): void {
    for (const socket of this.#sockets) {
      if (!socket.heard) {
        this.#sockets.delete(socket);
        socket.terminate();
        continue;
      }
      socket.heard = false;
      socket.ping();
    }
  }
}
