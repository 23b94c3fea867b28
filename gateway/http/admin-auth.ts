// Who may use the operator's routes (GET /runners, quarantine, /metrics) and the dashboard's
// socket: a caller with one of CODEEXEC_ADMIN_KEYS (`Authorization: Bearer <key>`, or on a
// browser's WebSocket, in Sec-WebSocket-Protocol: shared/ws-auth.ts); without admin keys, only
// callers on the gateway's own machine (loopback), like the rest of an unconfigured gateway.
import { CodeexecError } from '../../shared/index.js';
import type { HttpRequest } from '../transport/transport.js';
import { ClientAuth } from './client-auth.js';

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;
/** Whether a peer address is this machine's (loopback, as the transports spell it). */
export const isLoopbackPeer = (address: string): boolean => LOOPBACK.test(address);
const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'];

export class AdminAuth {
  readonly #keys: ClientAuth;

  constructor(keys: readonly string[]) {
    this.#keys = new ClientAuth(keys);
  }

  /** Throws `unauthorized` unless the caller may act as the operator. */
  check(req: HttpRequest): void {
    this.checkCaller(req.headers, req.remoteAddress);
  }

  /** The same, from a request's (or a WebSocket upgrade's) headers and the peer's address. */
  checkCaller(headers: Readonly<Record<string, string>>, remoteAddress: string): void {
    if (this.#keys.enabled) {
      try {
        this.#keys.identify(headers, remoteAddress);
      } catch {
        throw new CodeexecError(
          'unauthorized',
          'This route needs an admin key (CODEEXEC_ADMIN_KEYS) as Bearer',
        );
      }
      return;
    }
    if (!isLoopbackPeer(remoteAddress)) {
      throw new CodeexecError(
        'unauthorized',
        'Without CODEEXEC_ADMIN_KEYS, the operator routes answer only on the gateway machine (loopback)',
      );
    }
    // A reverse proxy on this machine connects from loopback for callers anywhere; it says so in
    // these headers (nginx, Caddy, HAProxy, cloud balancers add one). Such a caller is not local.
    if (PROXY_HEADERS.some((name) => headers[name] !== undefined)) {
      throw new CodeexecError(
        'unauthorized',
        'This request came through a proxy: set CODEEXEC_ADMIN_KEYS for the operator routes',
      );
    }
  }
}
