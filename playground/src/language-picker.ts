/// <reference lib="dom" />
// The Language select: its options (language-options.ts decides them) and the user's choice.
import { byId, h } from '../../shared/dom.js';
import type { LanguageOption } from './language-options.js';

export class LanguagePicker {
  readonly #select = byId<HTMLSelectElement>('language');
  #options: readonly LanguageOption[] = [];

  constructor(onChange: (lang: string) => void) {
    this.#select.addEventListener('change', () => onChange(this.#select.value));
  }

  get options(): readonly LanguageOption[] {
    return this.#options;
  }

  fill(options: readonly LanguageOption[]): void {
    this.#options = options;
    this.#select.replaceChildren(
      ...options.map((option) => h('option', { value: option.value }, option.label)),
    );
  }

  set value(lang: string) {
    this.#select.value = lang;
  }

  /** Nothing to choose from, or a run going on: the language stays as it is. */
  set locked(locked: boolean) {
    this.#select.disabled = locked || this.#options.length === 0;
  }
}
