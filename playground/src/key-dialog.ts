/// <reference lib="dom" />
// The API key dialog: asked once when the gateway wants a key (a 401, or the socket closed with
// 4401), and from the header's "API key" button to change or forget it. The key is kept by KeyStore.
// One failure may ask from several places (the REST call, the socket, the run): they share one
// dialog and one answer.
import { byId } from '../../shared/dom.js';
import type { KeyStore } from './key-store.js';

export type KeyChoice = 'saved' | 'forgotten' | 'cancelled';

export class KeyDialog {
  readonly #dialog = byId<HTMLDialogElement>('key-dialog');
  readonly #form = byId<HTMLFormElement>('key-form');
  readonly #input = byId<HTMLInputElement>('key-input');
  readonly #reason = byId('key-reason');
  readonly #forget = byId<HTMLButtonElement>('key-forget');
  readonly #cancel = byId<HTMLButtonElement>('key-cancel');
  readonly #button = byId<HTMLButtonElement>('key-button');
  readonly #keys: KeyStore;
  readonly #onChange: () => void;
  /** The answer while the dialog is open: whoever asks meanwhile waits for the same one. */
  #answer: Promise<KeyChoice> | null = null;
  #settle: ((choice: KeyChoice) => void) | null = null;

  /** `onChange`: the key was saved or forgotten (called once per answer). */
  constructor(keys: KeyStore, onChange: () => void) {
    this.#keys = keys;
    this.#onChange = onChange;
    // Handled here, not by method="dialog": the page's CSP has form-action 'none'.
    this.#form.addEventListener('submit', (event) => {
      event.preventDefault();
      const key = this.#input.value.trim();
      if (key === '') {
        this.#input.setCustomValidity('Enter the key, or Cancel');
        this.#input.reportValidity();
        return;
      }
      this.#keys.set(key);
      this.#close('saved');
    });
    this.#input.addEventListener('input', () => this.#input.setCustomValidity(''));
    this.#forget.addEventListener('click', () => {
      this.#keys.forget();
      this.#close('forgotten');
    });
    this.#cancel.addEventListener('click', () => this.#close('cancelled'));
    this.#dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      this.#close('cancelled');
    });
    this.refreshButton();
  }

  /** Shows the dialog with `reason`; resolves with what the user chose. */
  ask(reason: string): Promise<KeyChoice> {
    if (this.#answer !== null) return this.#answer;
    this.#reason.textContent = reason;
    this.#input.value = '';
    this.#forget.hidden = this.#keys.get() === null;
    this.#dialog.showModal();
    this.#input.focus();
    this.#answer = new Promise((resolve) => {
      this.#settle = resolve;
    });
    return this.#answer;
  }

  /** The gateway answered 401: asks for a key, saying whether the one kept was refused. */
  askRefused(what: string): Promise<KeyChoice> {
    return this.ask(
      this.#keys.get() === null
        ? `This gateway wants an API key ${what}.`
        : `The gateway refused the API key kept in this browser: enter a valid one ${what}.`,
    );
  }

  /** The header button says whether a key is kept. */
  refreshButton(): void {
    const has = this.#keys.get() !== null;
    this.#button.textContent = has ? 'API key ✓' : 'API key';
    this.#button.setAttribute('aria-label', has ? 'API key (set)' : 'API key');
  }

  #close(choice: KeyChoice): void {
    this.#dialog.close();
    this.refreshButton();
    const settle = this.#settle;
    this.#settle = null;
    // Cleared first: what onChange does may ask again (the new key refused too).
    this.#answer = null;
    settle?.(choice);
    if (choice !== 'cancelled') this.#onChange();
  }
}
