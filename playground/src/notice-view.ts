/// <reference lib="dom" />
// The page's notice line: a problem that is not one run's (no runner connected, the connection
// lost, the languages not loaded), with at most one action (Reconnect, Retry).
import { byId } from '../../shared/dom.js';

export interface NoticeAction {
  label: string;
  run: () => void;
}

export class NoticeView {
  readonly #box = byId('notice');
  readonly #text = byId('notice-text');
  readonly #button = byId<HTMLButtonElement>('notice-action');
  #action: NoticeAction | null = null;

  constructor() {
    this.#button.addEventListener('click', () => this.#action?.run());
  }

  show(text: string, action: NoticeAction | null = null): void {
    this.#text.textContent = text;
    this.#action = action;
    this.#button.hidden = action === null;
    this.#button.textContent = action?.label ?? '';
    this.#box.hidden = false;
  }

  clear(): void {
    this.#box.hidden = true;
    this.#text.textContent = '';
    this.#action = null;
  }
}
