/// <reference lib="dom" />
// The dashboard's socket to the gateway (admin/events, beside the page, so a proxy may mount the
// gateway under a prefix): the admin key rides in Sec-WebSocket-Protocol (a browser cannot set
// Authorization on a WebSocket), frames are checked against the shared schema, a 4401 asks for a
// key, and any other close tries again after a backoff (reconnect.ts).
import * as v from 'valibot';
import { type AdminFrame, AdminFrameSchema } from '../../shared/admin-protocol.js';
import { wsProtocols } from '../../shared/ws-auth.js';
import { type ConnectionStatus, closeReason, retryDelay, UNAUTHORIZED_CLOSE } from './reconnect.js';

export interface ConnectionHandlers {
  frame(frame: AdminFrame, receivedAt: number): void;
  status(status: ConnectionStatus): void;
}

/** The socket's address: `admin/events` relative to the page, on ws: or wss: as the page is. */
export function eventsUrl(page: string): string {
  const url = new URL('admin/events', page);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

export class DashboardConnection {
  readonly #url: string;
  readonly #key: () => string | null;
  readonly #on: ConnectionHandlers;
  #socket: WebSocket | null = null;
  #retry: ReturnType<typeof setTimeout> | null = null;
  /** Closes in a row without a snapshot between them: the backoff's exponent. */
  #failures = 0;

  constructor(url: string, key: () => string | null, handlers: ConnectionHandlers) {
    this.#url = url;
    this.#key = key;
    this.#on = handlers;
  }

  /** Connects now (again), with the key as it is now; a retry that was waiting is dropped. */
  connect(): void {
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
    if (this.#socket) {
      const old = this.#socket;
      this.#socket = null;
      old.close(1000, 'reconnecting');
    }
    const key = this.#key();
    const socket = new WebSocket(this.#url, wsProtocols(key));
    this.#socket = socket;
    this.#on.status({ state: 'connecting' });
    socket.addEventListener('message', (event) => {
      if (this.#socket !== socket || typeof event.data !== 'string') return;
      const parsed = v.safeParse(AdminFrameSchema, parseJson(event.data));
      if (!parsed.success) {
        console.warn('codeexec dashboard: a frame it does not understand', parsed.issues[0]?.message);
        return;
      }
      if (parsed.output.type === 'snapshot') {
        this.#failures = 0;
        this.#on.status({ state: 'live' });
      }
      this.#on.frame(parsed.output, Date.now());
    });
    socket.addEventListener('close', (event) => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      if (event.code === UNAUTHORIZED_CLOSE) {
        this.#on.status({ state: 'key_needed', refused: key !== null });
        return;
      }
      const delay = retryDelay(this.#failures++, Math.random());
      this.#on.status({
        state: 'reconnecting',
        retryAt: Date.now() + delay,
        reason: closeReason(event.code, event.reason),
      });
      this.#retry = setTimeout(() => this.connect(), delay);
    });
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
