// The operator's dashboard socket (GET /admin/events, docs/admin.md): admin keys as GET /runners
// (a browser sends its key in Sec-WebSocket-Protocol), then the feed's frames (admin-feed.ts): a
// snapshot and the changes after it. It takes no frames. A dashboard that stops reading is
// closed (1008) rather than buffered without bound; it reconnects to a fresh snapshot.
import {
  ADMIN_MAX_BUFFERED_BYTES,
  type AdminFrame,
  CLOSE_CODES,
  CodeexecError,
  closeCodeFor,
} from '../../shared/index.js';
import type { AdminFeed } from '../admin/admin-feed.js';
import type { AdminAuth } from '../http/admin-auth.js';
import type { SocketHandler, SocketLike, UpgradeInfo } from '../transport/transport.js';

export interface AdminSocketsOptions {
  feed: AdminFeed;
  admin: AdminAuth;
}

const send = (socket: SocketLike, frame: AdminFrame) => socket.send(JSON.stringify(frame));

export class AdminSockets implements SocketHandler {
  /** It takes no frames: anything larger than a mistake is refused by the transport. */
  readonly maxFrameBytes = 4096;
  readonly #options: AdminSocketsOptions;
  /** Each open dashboard and the function that stops its feed. */
  readonly #open = new Map<SocketLike, () => void>();

  constructor(options: AdminSocketsOptions) {
    this.#options = options;
  }

  /** Dashboards open now. */
  get size(): number {
    return this.#open.size;
  }

  open(socket: SocketLike, upgrade: UpgradeInfo): void {
    try {
      this.#options.admin.checkCaller(upgrade.headers, socket.remoteAddress);
    } catch (err) {
      const error = err instanceof CodeexecError ? err : new CodeexecError('unauthorized');
      send(socket, { type: 'error', code: error.code, message: error.message });
      socket.close(closeCodeFor(error.code), error.message.slice(0, 120));
      return;
    }
    let dropped = false;
    const unsubscribe = this.#options.feed.subscribe((text) => {
      if (dropped) return;
      if (socket.bufferedAmount > ADMIN_MAX_BUFFERED_BYTES) {
        dropped = true;
        socket.close(CLOSE_CODES.too_slow, 'the dashboard does not read its socket');
        return;
      }
      socket.send(text);
    });
    this.#open.set(socket, unsubscribe);
  }

  message(socket: SocketLike): void {
    if (!this.#open.has(socket)) return;
    send(socket, { type: 'error', code: 'invalid_frame', message: 'the dashboard socket takes no frames' });
  }

  close(socket: SocketLike): void {
    const unsubscribe = this.#open.get(socket);
    if (unsubscribe === undefined) return;
    this.#open.delete(socket);
    unsubscribe();
  }

  /** Gateway shutdown: the transport closes the sockets; the feed stops its timers. */
  shutdown(): void {
    for (const unsubscribe of this.#open.values()) unsubscribe();
    this.#open.clear();
    this.#options.feed.close();
  }
}
