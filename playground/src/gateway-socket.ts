/// <reference lib="dom" />
// The page's one socket to /execute/ws: opened when first needed, with the key in
// Sec-WebSocket-Protocol (browsers cannot set Authorization on a WebSocket: shared/ws-auth.ts).
// Every frame from the gateway is checked against the protocol's schema before the page sees it.
// An end the page did not ask for is reported: 4401 means the key is missing or wrong.
import * as v from 'valibot';
import type { ClientToGatewayFrame } from '../../shared/client-protocol.js';
import { type GatewayToClient, GatewayToClientFrame } from '../../shared/client-protocol.js';
import { closeCodeFor } from '../../shared/errors.js';
import { wsProtocols } from '../../shared/ws-auth.js';

/** A frame the page sends: the schema's input (defaults such as `interactive` may be left out). */
export type ClientFrame = v.InferInput<typeof ClientToGatewayFrame>;

export interface SocketEnd {
  /** `unauthorized`: closed with 4401; `dropped`: any other end the page did not ask for. */
  kind: 'unauthorized' | 'dropped';
  code: number;
  reason: string;
}

export interface GatewaySocketOptions {
  /** The page's URL: the socket is `execute/ws` relative to it. */
  base: string;
  key: () => string | null;
  onFrame: (frame: GatewayToClient) => void;
  /** A frame that does not match the protocol (a gateway of another version). */
  onInvalid: (problem: string) => void;
  onEnd: (end: SocketEnd) => void;
}

/** ws(s)://…/execute/ws, relative to the page's URL. */
export function socketUrl(base: string): string {
  const url = new URL('execute/ws', base);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  url.search = '';
  return url.toString();
}

export function endOf(code: number, reason: string): SocketEnd {
  return { kind: code === closeCodeFor('unauthorized') ? 'unauthorized' : 'dropped', code, reason };
}

export class GatewaySocket {
  readonly #options: GatewaySocketOptions;
  #ws: WebSocket | null = null;
  #opening: Promise<void> | null = null;
  /** Sockets close() ended: their close event is no news. */
  readonly #closedByPage = new WeakSet<WebSocket>();

  constructor(options: GatewaySocketOptions) {
    this.#options = options;
  }

  get isOpen(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  /** Resolves once the socket is open (at once if it is); rejects with a SocketEnd if it fails. */
  connect(): Promise<void> {
    if (this.isOpen) return Promise.resolve();
    this.#opening ??= new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(socketUrl(this.#options.base), wsProtocols(this.#options.key()));
      this.#ws = ws;
      let opened = false;
      ws.addEventListener('open', () => {
        opened = true;
        this.#opening = null;
        resolve();
      });
      ws.addEventListener('message', (event) => this.#receive(event.data));
      ws.addEventListener('close', (event) => {
        const end = endOf(event.code, event.reason);
        if (!opened) reject(end);
        if (this.#closedByPage.has(ws)) return;
        this.#ws = null;
        this.#opening = null;
        if (opened) this.#options.onEnd(end);
      });
    });
    return this.#opening;
  }

  send(frame: ClientFrame): void {
    if (!this.#ws || !this.isOpen) throw new Error('the socket is not open');
    this.#ws.send(JSON.stringify(frame));
  }

  /** Close it on purpose (a new key, the page going away): no end is reported. */
  close(): void {
    const ws = this.#ws;
    this.#ws = null;
    this.#opening = null;
    if (ws) {
      this.#closedByPage.add(ws);
      ws.close(1000);
    }
  }

  #receive(data: unknown): void {
    let json: unknown;
    try {
      json = JSON.parse(String(data));
    } catch {
      this.#options.onInvalid('a frame that is not JSON');
      return;
    }
    const parsed = v.safeParse(GatewayToClientFrame, json);
    if (parsed.success) this.#options.onFrame(parsed.output);
    else this.#options.onInvalid(`a frame that does not match the protocol: ${v.summarize(parsed.issues)}`);
  }
}
