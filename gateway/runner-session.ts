// One connected runner, as the gateway sees it: its handshake state, what it offers, what it holds.
import type { RunnerLanguage } from '../shared/index.js';
import type { SocketLike } from './transport/transport.js';

export type RunnerSessionState = 'handshaking' | 'ready' | 'closed';

export class RunnerSession {
  state: RunnerSessionState = 'handshaking';
  name = '';
  version = '';
  languages = new Map<string, RunnerLanguage>();
  slots = 0;
  labels: string[] = [];
  /** Jobs offered and not yet answered, and jobs accepted: both take a slot. */
  readonly offered = new Set<string>();
  readonly running = new Set<string>();
  lastSeen = Date.now();
  readonly socket: SocketLike;

  constructor(socket: SocketLike) {
    this.socket = socket;
  }

  get load(): number {
    return this.offered.size + this.running.size;
  }

  get freeSlots(): number {
    return this.slots - this.load;
  }

  offers(lang: string): boolean {
    return this.languages.has(lang);
  }

  send(frame: object): boolean {
    return this.socket.send(JSON.stringify(frame));
  }
}
