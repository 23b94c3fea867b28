// The API key the user gave the page, kept in the browser (localStorage) so it is asked for once.
// It is sent only to the gateway that served the page: as `Authorization: Bearer` on REST calls and
// in Sec-WebSocket-Protocol on the socket (shared/ws-auth.ts).

/** The part of Storage the key needs (localStorage in the page, a Map in tests). */
export type KeyStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

export const KEY_ITEM = 'codeexec.playground.api-key';

export class KeyStore {
  readonly #storage: KeyStorage | null;
  /** The key for this page's life, when storage refuses it. */
  #memory: string | null = null;

  /** `storage` null: the browser refuses storage (a privacy mode): the key lives for the page only. */
  constructor(storage: KeyStorage | null) {
    this.#storage = storage;
  }

  get(): string | null {
    try {
      return this.#storage?.getItem(KEY_ITEM) || this.#memory;
    } catch {
      return this.#memory;
    }
  }

  /** Keeps `key` (trimmed); an empty one is the same as forget(). */
  set(key: string): void {
    const trimmed = key.trim();
    if (trimmed === '') {
      this.forget();
      return;
    }
    this.#memory = trimmed;
    try {
      this.#storage?.setItem(KEY_ITEM, trimmed);
    } catch {
      // Storage full or refused: the key still works until the page closes.
    }
  }

  forget(): void {
    this.#memory = null;
    try {
      this.#storage?.removeItem(KEY_ITEM);
    } catch {
      // Nothing stored to forget.
    }
  }
}

/** localStorage, or null when the browser refuses it (reading it can throw). */
export function browserStorage(): KeyStorage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}
