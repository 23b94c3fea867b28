// What a runner tells the gateway about itself: the hello (who it is, what it offers, what it
// holds, whether it is paused, draining or building languages), and what changes later: capacity
// (slots, paused) and languages. A change made between a hello and its welcome (the socket carries
// no frame yet) is sent right after the welcome.
import { PROTOCOL_VERSION, type RunnerToGateway } from '../shared/index.js';
import type { RunnerState } from './runner-state.js';

type Hello = Extract<RunnerToGateway, { type: 'hello' }>;
type Capacity = Extract<RunnerToGateway, { type: 'capacity' }>;
type Languages = Extract<RunnerToGateway, { type: 'languages' }>;

export const RUNNER_VERSION = '0.1.0';

export interface PresenceSource {
  token: string;
  name: string;
  labels: readonly string[];
  state(): RunnerState;
  slots(): number;
  languages(): Languages;
  /** Jobs held (running, or finished and not yet reported). */
  held(): string[];
  send(frame: RunnerToGateway): boolean;
}

export class RunnerPresence {
  readonly #source: PresenceSource;
  /** What the last hello said of capacity and languages. */
  #told = { capacity: '', languages: '' };

  constructor(source: PresenceSource) {
    this.#source = source;
  }

  hello(): Hello {
    const source = this.#source;
    const capacity = this.#capacity();
    const languages = source.languages();
    this.#told = { capacity: JSON.stringify(capacity), languages: JSON.stringify(languages) };
    return {
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      token: source.token,
      name: source.name,
      version: RUNNER_VERSION,
      languages: [...languages.languages],
      slots: capacity.slots,
      labels: [...source.labels],
      held: source.held(),
      draining: source.state() === 'draining',
      building: languages.building,
      paused: capacity.paused,
    };
  }

  /** The welcome came: send what changed since the hello was written. */
  welcomed(): void {
    if (JSON.stringify(this.#capacity()) !== this.#told.capacity) this.capacityChanged();
    if (JSON.stringify(this.#source.languages()) !== this.#told.languages) this.languagesChanged();
  }

  capacityChanged(): void {
    this.#source.send(this.#capacity());
  }

  languagesChanged(): void {
    this.#source.send(this.#source.languages());
  }

  #capacity(): Capacity {
    return { type: 'capacity', slots: this.#source.slots(), paused: this.#source.state() === 'paused' };
  }
}
