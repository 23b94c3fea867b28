// Proxy-safe liveness from a client's side of a WebSocket (the runner's link, `codeexec run`):
// a ping every interval keeps proxies from cutting an idle link, and a peer that answered nothing
// since the previous ping is taken for dead. The gateway does the same for all of its sockets at
// once (gateway/transport/socket-liveness.ts); docs/deployment.md says how this meets proxies.

/** The default ping interval: below the idle cut-offs of common proxies (nginx 60 s, ALBs 60 s). */
export const DEFAULT_PING_MS = 25_000;

/** What the keepalive needs of a `ws` WebSocket (structural: shared/ imports no socket library). */
export interface PingableSocket {
  ping(): void;
  on(event: 'pong' | 'message', listener: () => void): unknown;
  off(event: 'pong' | 'message', listener: () => void): unknown;
}

/**
 * Pings `socket` every `intervalMs`. When neither a pong nor a message came since the previous
 * ping, it stops and calls `onDead` (which terminates the socket). Returns a stop function.
 */
export function keepAlive(socket: PingableSocket, intervalMs: number, onDead: () => void): () => void {
  let heard = true;
  const hear = (): void => {
    heard = true;
  };
  const stop = (): void => {
    clearInterval(timer);
    socket.off('pong', hear);
    socket.off('message', hear);
  };
  const timer = setInterval(() => {
    if (!heard) {
      stop();
      onDead();
      return;
    }
    heard = false;
    try {
      socket.ping();
    } catch {
      // Not open (closing): its close event ends this keepalive.
    }
  }, intervalMs);
  timer.unref();
  socket.on('pong', hear);
  socket.on('message', hear);
  return stop;
}
