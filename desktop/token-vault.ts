import { readFile } from 'node:fs/promises';
import * as v from 'valibot';
import { writeFileAtomic } from '../donor/private-file.js';

/** The part of Electron's safeStorage the vault uses. */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
  /** Linux only: which backend encrypts; 'basic_text' is a key baked into Chromium. */
  getSelectedStorageBackend?(): string;
}

export interface Enrollment {
  gateway_url: string;
  token: string;
}

export type VaultErrorCode = 'encryption_unavailable' | 'damaged' | 'undecryptable';

export class VaultError extends Error {
  override name = 'VaultError';
  constructor(
    readonly code: VaultErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const VaultFileSchema = v.strictObject({
  version: v.literal(1),
  gateway_url: v.pipe(v.string(), v.minLength(1)),
  /** safeStorage's ciphertext, base64. */
  token_encrypted: v.pipe(v.string(), v.minLength(1)),
});

/** Backends that are not encryption by a secret the OS keeps. */
const WEAK_BACKENDS = new Set(['basic_text', 'unknown']);

export class TokenVault {
  readonly #storage: SafeStorageLike;

  constructor(
    readonly file: string,
    storage: SafeStorageLike,
  ) {
    this.#storage = storage;
  }

  /** Why the token cannot be stored here, or null when it can. */
  unavailableReason(): string | null {
    if (!this.#storage.isEncryptionAvailable()) {
      return 'this system offers no encryption for secrets, so the token cannot be stored';
    }
    const backend = this.#storage.getSelectedStorageBackend?.();
    if (backend !== undefined && WEAK_BACKENDS.has(backend)) {
      return (
        'no keyring is running (GNOME Keyring or KWallet), so the token cannot be stored encrypted; ' +
        'start one and try again'
      );
    }
    return null;
  }

  /** Throws VaultError('encryption_unavailable') rather than write the token unencrypted. */
  async save(enrollment: Enrollment): Promise<void> {
    const reason = this.unavailableReason();
    if (reason !== null) throw new VaultError('encryption_unavailable', `Not saved: ${reason}.`);
    const record: v.InferOutput<typeof VaultFileSchema> = {
      version: 1,
      gateway_url: enrollment.gateway_url,
      token_encrypted: this.#storage.encryptString(enrollment.token).toString('base64'),
    };
    await writeFileAtomic(this.file, `${JSON.stringify(record, null, 2)}\n`);
  }

  /** The enrollment, or null when none was saved. Throws VaultError when the file is unusable. */
  async load(): Promise<Enrollment | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new VaultError('damaged', `${this.file} cannot be read: ${(err as Error).message}`);
    }
    let record: v.InferOutput<typeof VaultFileSchema>;
    try {
      record = v.parse(VaultFileSchema, JSON.parse(text));
    } catch {
      throw new VaultError('damaged', `${this.file} is damaged; enter the gateway and token again`);
    }
    if (!this.#storage.isEncryptionAvailable()) {
      throw new VaultError('undecryptable', 'the OS keychain is not available to decrypt the token yet');
    }
    try {
      const token = this.#storage.decryptString(Buffer.from(record.token_encrypted, 'base64'));
      return { gateway_url: record.gateway_url, token };
    } catch (err) {
      throw new VaultError(
        'undecryptable',
        `the token in ${this.file} cannot be decrypted (${(err as Error).message}); enter it again`,
      );
    }
  }

  /** The gateway URL alone, readable without the keychain (the settings form shows it). */
  async gatewayUrl(): Promise<string | null> {
    try {
      const parsed = v.safeParse(VaultFileSchema, JSON.parse(await readFile(this.file, 'utf8')));
      return parsed.success ? parsed.output.gateway_url : null;
    } catch {
      return null;
    }
  }
}
