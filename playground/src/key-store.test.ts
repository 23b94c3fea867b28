import { describe, expect, it } from 'vitest';
import { KEY_ITEM, type KeyStorage, KeyStore } from './key-store.js';

function memoryStorage(): KeyStorage & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

const refusing: KeyStorage = {
  getItem: () => {
    throw new Error('SecurityError');
  },
  setItem: () => {
    throw new Error('QuotaExceededError');
  },
  removeItem: () => {
    throw new Error('SecurityError');
  },
};

describe('the key store', () => {
  it('keeps the key in storage, trimmed, and forgets it', () => {
    const storage = memoryStorage();
    const keys = new KeyStore(storage);
    expect(keys.get()).toBeNull();
    keys.set('  secret-key \n');
    expect(storage.items.get(KEY_ITEM)).toBe('secret-key');
    expect(new KeyStore(storage).get()).toBe('secret-key');
    keys.forget();
    expect(keys.get()).toBeNull();
    expect(storage.items.size).toBe(0);
  });

  it('an empty key forgets', () => {
    const storage = memoryStorage();
    const keys = new KeyStore(storage);
    keys.set('k');
    keys.set('   ');
    expect(keys.get()).toBeNull();
  });

  it('works for the page’s life when the browser refuses storage', () => {
    for (const storage of [refusing, null]) {
      const keys = new KeyStore(storage);
      keys.set('k');
      expect(keys.get()).toBe('k');
      keys.forget();
      expect(keys.get()).toBeNull();
    }
  });
});
