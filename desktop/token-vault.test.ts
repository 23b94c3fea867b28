import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type SafeStorageLike, TokenVault, VaultError } from './token-vault.js';

const root = mkdtempSync(join(tmpdir(), 'codeexec-vault-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let files = 0;
const file = () => join(root, `app-${++files}`, 'enrollment.json');

/** safeStorage's shape: a reversible transform standing in for the OS keychain. */
function storage(options: { available?: boolean; backend?: string } = {}): SafeStorageLike {
  const secret = 0x5a;
  return {
    isEncryptionAvailable: () => options.available ?? true,
    encryptString: (text) => Buffer.from([...Buffer.from(`v10${text}`)].map((b) => b ^ secret)),
    decryptString: (data) => {
      const text = Buffer.from([...data].map((b) => b ^ secret)).toString();
      if (!text.startsWith('v10')) throw new Error('Error while decrypting the ciphertext provided');
      return text.slice(3);
    },
    ...(options.backend ? { getSelectedStorageBackend: () => options.backend as string } : {}),
  };
}

const TOKEN = 'rt_9f8e7d6c5b4a3928171615141312';

describe('TokenVault', () => {
  it('stores the token encrypted and reads it back', async () => {
    const path = file();
    const vault = new TokenVault(path, storage({ backend: 'gnome_libsecret' }));
    expect(vault.unavailableReason()).toBeNull();
    await vault.save({ gateway_url: 'https://gateway.example.org', token: TOKEN });
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain(TOKEN);
    expect(JSON.parse(text)).toMatchObject({ version: 1, gateway_url: 'https://gateway.example.org' });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await vault.load()).toEqual({ gateway_url: 'https://gateway.example.org', token: TOKEN });
    expect(await vault.gatewayUrl()).toBe('https://gateway.example.org');
  });

  it('is empty before enrollment', async () => {
    const vault = new TokenVault(file(), storage());
    expect(await vault.load()).toBeNull();
    expect(await vault.gatewayUrl()).toBeNull();
  });

  it.each([
    ['no encryption at all', { available: false }, /offers no encryption/],
    ["Linux without a keyring (Chromium's fixed key)", { backend: 'basic_text' }, /no keyring is running/],
  ])('refuses to store the token with %s, and writes nothing', async (_, options, message) => {
    const path = file();
    const vault = new TokenVault(path, storage(options));
    expect(vault.unavailableReason()).toMatch(message);
    const saving = vault.save({ gateway_url: 'https://g.example', token: TOKEN });
    await expect(saving).rejects.toThrow(message);
    await expect(saving).rejects.toMatchObject({ code: 'encryption_unavailable' });
    expect(() => statSync(path)).toThrow(/ENOENT/);
  });

  it('reports a damaged file instead of treating it as "not enrolled"', async () => {
    const path = file();
    const vault = new TokenVault(path, storage());
    await vault.save({ gateway_url: 'https://g.example', token: TOKEN });
    writeFileSync(path, '{"version": 1, "gateway_url": ');
    await expect(vault.load()).rejects.toMatchObject({ code: 'damaged' });
  });

  it('reports a token the keychain cannot decrypt (another user, a reset keychain)', async () => {
    const path = file();
    await new TokenVault(path, storage()).save({ gateway_url: 'https://g.example', token: TOKEN });
    const other: SafeStorageLike = {
      ...storage(),
      decryptString: () => {
        throw new Error('Error while decrypting the ciphertext provided');
      },
    };
    const loading = new TokenVault(path, other).load();
    await expect(loading).rejects.toBeInstanceOf(VaultError);
    await expect(loading).rejects.toMatchObject({ code: 'undecryptable' });
  });
});
